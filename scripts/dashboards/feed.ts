// "Activity feed": the live table of raw events (30 s refresh) with every filter an analyst
// reaches for. A user or resource cell links back here filtered to that user or resource, so
// "everything about X" is one click from any row on any dashboard.
import { VIEWS } from '../../src/analytics/views.ts';
import { severities } from '../../src/event/model.ts';
import { customVariable, dashboard, DB, layout, queryVariable, tenantVariable, sqlTarget, textValue, textVariable, when, whenTenant, type Json, type PanelSpec } from './kit.ts';
import { barsBy, stat, table, type ColumnLink } from './panels.ts';

export const FEED_UID = 'audit-activity-feed';
const FEED_URL = `/d/${FEED_UID}/activity-feed`;

// Data links: values percent-encoded, the time range kept; unnamed variables fall back to All/empty.
export const userLink: ColumnLink = {
  column: 'user_id',
  title: 'Everything by this user',
  url: `${FEED_URL}?var-tenant=\${__data.fields.tenant_id:percentencode}&var-user=\${__value.raw:percentencode}&\${__url_time_range}`,
};

export const resourceLink: ColumnLink = {
  column: 'resource_id',
  title: 'Everything done to this resource',
  url:
    `${FEED_URL}?var-tenant=\${__data.fields.tenant_id:percentencode}` +
    `&var-resource_type=\${__data.fields.resource_type:percentencode}&var-resource_id=\${__value.raw:percentencode}&\${__url_time_range}`,
};

/** Raw events in a table: user and resource cells link here, the short columns sized alike on every dashboard. */
export function eventsTable(o: { title: string; w: number; description?: string; sql: string }): PanelSpec {
  return table({
    title: o.title,
    w: o.w,
    description: o.description,
    links: [userLink, resourceLink],
    widths: { timestamp: 190, severity: 90, tenant_id: 110, outcome: 80 },
    targets: [sqlTarget(o.sql, 'table')],
  });
}

// Free-text variables enter the SQL only through textValue() (percent-encoded, decoded by ClickHouse).
const WITH_TEXT = [
  `${textValue('user')} AS want_user`,
  `${textValue('resource_type')} AS want_resource_type`,
  `${textValue('resource_id')} AS want_resource_id`,
  `${textValue('q')} AS want_text`,
].join(', ');

const FILTERS = [
  '$__timeFilter(timestamp)',
  whenTenant('tenant_id'),
  when('activity_type', 'activity_type'),
  when('severity', 'severity'),
  "(want_user = '' OR user_id = want_user)",
  "(want_resource_type = '' OR resource_type = want_resource_type)",
  "(want_resource_id = '' OR resource_id = want_resource_id)",
  "(want_text = '' OR positionCaseInsensitiveUTF8(description, want_text) > 0)",
].join(' AND ');

const raw = `${DB}.audit_activities`;
const matching = (select: string, tail = '') => `WITH ${WITH_TEXT} SELECT ${select} FROM ${raw} WHERE ${FILTERS}${tail}`;

export function feedDashboard(): Json {
  const panels = layout([
    {
      h: 4,
      panels: [
        stat({ title: 'Matching events', w: 6, targets: [sqlTarget(matching('count() AS events'), 'table')] }),
        stat({ title: 'Failures', w: 6, redFrom: 1, targets: [sqlTarget(matching("countIf(outcome = 'failure') AS failures"), 'table')] }),
        stat({ title: 'Users', w: 6, targets: [sqlTarget(matching('uniqExact(user_id) AS users'), 'table')] }),
        stat({
          title: 'Resources',
          w: 6,
          targets: [sqlTarget(matching("uniqExactIf((resource_type, resource_id), resource_id != '') AS resources"), 'table')],
        }),
      ],
    },
    {
      h: 6,
      panels: [
        barsBy('severity', {
          title: 'Matching events over time',
          w: 24,
          colorBySeverity: true,
          targets: [
            sqlTarget(
              matching('$__timeInterval(timestamp) AS time, toString(severity) AS severity, count() AS events', ' GROUP BY time, severity ORDER BY time'),
              'timeSeries',
            ),
          ],
        }),
      ],
    },
    {
      h: 18,
      panels: [
        eventsTable({
          title: 'Activity',
          w: 24,
          description: 'Newest first, at most 1000 rows: narrow the time range or the filters to see older events.',
          sql: matching(
            'timestamp, tenant_id, toString(severity) AS severity, activity_type, action, toString(outcome) AS outcome, user_id, ' +
              'resource_type, resource_id, description, ip_address, request_id, toString(id) AS id, details',
            ' ORDER BY timestamp DESC, id DESC LIMIT 1000',
          ),
        }),
      ],
    },
  ]);

  return dashboard({
    uid: FEED_UID,
    title: 'Activity feed',
    description: 'Live audit events, newest first, with filters; user and resource cells link to everything about them.',
    time: { from: 'now-6h', to: 'now' },
    refresh: '30s',
    variables: [
      tenantVariable(`${DB}.${VIEWS.daily}`),
      textVariable({ name: 'user', label: 'User id', description: 'Exact user id; empty for all users' }),
      queryVariable({
        name: 'activity_type',
        label: 'Activity type',
        sql: `SELECT DISTINCT activity_type FROM ${DB}.${VIEWS.daily} WHERE ${whenTenant('tenant_id')} ORDER BY activity_type`,
      }),
      customVariable({ name: 'severity', label: 'Severity', values: severities }),
      textVariable({ name: 'q', label: 'Text', description: 'Case-insensitive text in the description' }),
      textVariable({ name: 'resource_type', label: 'Resource type', description: 'Exact resource type; empty for all' }),
      textVariable({ name: 'resource_id', label: 'Resource id', description: 'Exact resource id; empty for all' }),
    ],
    panels,
  });
}
