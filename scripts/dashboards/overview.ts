// "Audit overview": what happened, how much, how badly, by whom and to what. Every chart reads
// the analytics views (cheap at any volume); only the latest HIGH/CRITICAL table reads raw rows.
import { VIEWS } from '../../src/analytics/views.ts';
import { severities } from '../../src/event/model.ts';
import { customVariable, dashboard, DB, layout, tenantVariable, sqlTarget, when, whenTenant, type Json } from './kit.ts';
import { barchart, barsBy, stat, table, timeseries } from './panels.ts';
import { eventsTable, resourceLink, userLink } from './feed.ts';

export const OVERVIEW_UID = 'audit-overview';

const hourly = `${DB}.${VIEWS.hourly}`;
const userDaily = `${DB}.${VIEWS.userDaily}`;
const resourceDaily = `${DB}.${VIEWS.resourceDaily}`;
const failures = `${DB}.${VIEWS.failuresMinutely}`;

// Hourly rows are whole hours: take the hour that contains the range start, so no event in the
// range is left out (the chart may show up to an hour before it).
const HOURS = 'hour >= toStartOfHour($__fromTime) AND hour <= $__toTime';
const MINUTES = 'minute >= toStartOfMinute($__fromTime) AND minute <= $__toTime';
const TENANT = whenTenant('tenant_id');
const SEVERITY = when('severity', 'severity');

const totals = (expr: string, alias: string) =>
  sqlTarget(`SELECT ${expr} AS ${alias} FROM ${hourly} WHERE ${HOURS} AND ${TENANT} AND ${SEVERITY}`, 'table');

// A view with its time column and the range filter on it.
const HOURLY = { view: hourly, time: 'hour', range: HOURS };
const MINUTELY = { view: failures, time: 'minute', range: MINUTES };

/** A time series of a view per $__timeInterval bucket, one series per value of `by` when given. */
const series = (v: typeof HOURLY, select: string, by?: string) =>
  sqlTarget(
    `SELECT $__timeInterval(${v.time}) AS time, ${select} FROM ${v.view} ` +
      `WHERE ${v.range} AND ${TENANT} AND ${SEVERITY} GROUP BY time${by ? `, ${by}` : ''} ORDER BY time`,
    'timeSeries',
  );

export function overviewDashboard(): Json {
  const panels = layout([
    {
      h: 4,
      panels: [
        stat({ title: 'Events', w: 4, targets: [totals('sum(events)', 'events')] }),
        stat({ title: 'Failures', w: 4, targets: [totals("sumIf(events, outcome = 'failure')", 'failures')], redFrom: 1 }),
        stat({
          title: 'Failure rate',
          w: 4,
          unit: 'percentunit',
          redFrom: 0.05,
          targets: [totals("sumIf(events, outcome = 'failure') / greatest(sum(events), 1)", 'failure_rate')],
        }),
        stat({ title: 'HIGH + CRITICAL', w: 4, targets: [totals("sumIf(events, severity IN ('HIGH', 'CRITICAL'))", 'high_critical')], redFrom: 1 }),
        stat({
          title: 'Active users',
          w: 4,
          description: 'Distinct users with at least one event in the range (whole days, all severities).',
          targets: [sqlTarget(`SELECT uniqExact(user_id) AS users FROM ${userDaily} WHERE $__dateFilter(day) AND ${TENANT}`, 'table')],
        }),
        stat({
          title: 'Resources touched',
          w: 4,
          description: 'Distinct resources named by an event in the range (whole days, all severities).',
          targets: [
            sqlTarget(`SELECT uniqExact(resource_type, resource_id) AS resources FROM ${resourceDaily} WHERE $__dateFilter(day) AND ${TENANT}`, 'table'),
          ],
        }),
      ],
    },
    {
      h: 8,
      panels: [
        barsBy('severity', {
          title: 'Events by severity',
          w: 12,
          interval: '1h',
          colorBySeverity: true,
          targets: [series(HOURLY, 'toString(severity) AS severity, sum(events) AS events', 'severity')],
        }),
        barsBy('activity_type', {
          title: 'Events by activity type',
          w: 12,
          interval: '1h',
          targets: [series(HOURLY, 'activity_type, sum(events) AS events', 'activity_type')],
        }),
      ],
    },
    {
      h: 8,
      panels: [
        timeseries({
          title: 'Failure rate',
          w: 12,
          unit: 'percentunit',
          interval: '1h',
          description: 'Share of events with outcome "failure".',
          targets: [series(HOURLY, "sumIf(events, outcome = 'failure') / sum(events) AS failure_rate")],
        }),
        barsBy('activity_type', {
          title: 'Failures by activity type',
          w: 12,
          interval: '1m',
          description: 'Failed events per interval, from the per-minute failures view (kept 90 days).',
          targets: [series(MINUTELY, 'activity_type, sum(failures) AS failures', 'activity_type')],
        }),
      ],
    },
    {
      h: 9,
      panels: [
        table({
          title: 'Top users',
          w: 8,
          description: 'Most events in the range (whole days, all severities). Click a user for everything they did.',
          links: [userLink],
          targets: [
            sqlTarget(
              `SELECT tenant_id, user_id, sum(events) AS events, sum(failures) AS failures FROM ${userDaily} ` +
                `WHERE $__dateFilter(day) AND ${TENANT} GROUP BY tenant_id, user_id ORDER BY events DESC, user_id LIMIT 20`,
              'table',
            ),
          ],
        }),
        table({
          title: 'Top resources',
          w: 8,
          description: 'Most events in the range (whole days, all severities). Click a resource for everything done to it.',
          links: [resourceLink],
          targets: [
            sqlTarget(
              `SELECT tenant_id, resource_type, resource_id, sum(events) AS events, sum(failures) AS failures FROM ${resourceDaily} ` +
                `WHERE $__dateFilter(day) AND ${TENANT} GROUP BY tenant_id, resource_type, resource_id ` +
                `ORDER BY events DESC, resource_type, resource_id LIMIT 20`,
              'table',
            ),
          ],
        }),
        barchart({
          title: 'Events by type',
          w: 8,
          xField: 'activity_type',
          targets: [
            sqlTarget(
              `SELECT activity_type, sum(events) AS events FROM ${hourly} WHERE ${HOURS} AND ${TENANT} AND ${SEVERITY} ` +
                `GROUP BY activity_type ORDER BY events DESC, activity_type LIMIT 15`,
              'table',
            ),
          ],
        }),
      ],
    },
    {
      h: 10,
      panels: [
        eventsTable({
          title: 'Latest HIGH and CRITICAL events',
          w: 24,
          sql:
            `SELECT timestamp, tenant_id, toString(severity) AS severity, activity_type, action, toString(outcome) AS outcome, ` +
            `user_id, resource_type, resource_id, description, ip_address, toString(id) AS id ` +
            `FROM ${DB}.audit_activities WHERE $__timeFilter(timestamp) AND severity IN ('HIGH', 'CRITICAL') AND ${TENANT} ` +
            `ORDER BY timestamp DESC LIMIT 100`,
        }),
      ],
    },
  ]);

  return dashboard({
    uid: OVERVIEW_UID,
    title: 'Audit overview',
    description: 'Totals, trends, failures, top users and resources, latest HIGH/CRITICAL events. Counts come from the analytics views.',
    time: { from: 'now-7d', to: 'now' },
    refresh: '5m',
    variables: [
      tenantVariable(`${DB}.${VIEWS.daily}`),
      customVariable({ name: 'severity', label: 'Severity', values: severities }),
    ],
    panels,
  });
}
