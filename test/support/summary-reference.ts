// The same summary computed from the raw rows of audit_activities: the oracle the views are
// tested against (test/analytics/analytics-summary.test.ts) and the baseline of bench/summary.ts. The
// service never serves it: at volume it reads every row of the window, which is what the views avoid.
// So it lives with the tests, and the benchmarks import it from here.
import { assembleSummary, summaryWindow, type AuditSummary, type SummaryRequest, type SummaryRows, type SummaryWindow } from '../../src/analytics/summary.ts';
import { ACTIVITIES_TABLE as TABLE } from '../../src/store/activity-rows.ts';
import type { Store } from '../../src/store/client.ts';

export async function summaryRowsFromRaw(store: Store, w: SummaryWindow): Promise<SummaryRows> {
  const raw = store.table(TABLE);
  // Same window as the views' `day` range, expressed on the sort key (tenant_id, timestamp).
  const inWindow = `tenant_id = {tenant:String} AND timestamp >= fromUnixTimestamp64Milli({from_ms:Int64})
    AND timestamp < fromUnixTimestamp64Milli({until_ms:Int64})`;
  const [bySeverityOutcomeDay, byType, users, resources] = await Promise.all([
    store.query<SummaryRows['bySeverityOutcomeDay'][number]>(
      `SELECT toString(toDate(timestamp, 'UTC')) AS date, toString(severity) AS severity, toString(outcome) AS outcome, count() AS n
       FROM ${raw} WHERE ${inWindow} GROUP BY date, severity, outcome`,
      w.params,
      'summary_raw',
    ),
    store.query<SummaryRows['byType'][number]>(
      `SELECT activity_type, count() AS n, countIf(outcome = 'failure') AS failed
       FROM ${raw} WHERE ${inWindow} GROUP BY activity_type
       ORDER BY n DESC, activity_type ASC LIMIT {types_limit:UInt32}`,
      w.params,
      'summary_raw',
    ),
    store.query<SummaryRows['users'][number]>(
      `SELECT user_id, count() AS n, countIf(outcome = 'failure') AS failed
       FROM ${raw} WHERE ${inWindow} GROUP BY user_id
       ORDER BY n DESC, user_id ASC LIMIT {top:UInt32}`,
      w.params,
      'summary_raw',
    ),
    store.query<SummaryRows['resources'][number]>(
      `SELECT resource_type, resource_id, count() AS n, countIf(outcome = 'failure') AS failed
       FROM ${raw} WHERE ${inWindow} AND resource_id != '' GROUP BY resource_type, resource_id
       ORDER BY n DESC, resource_type ASC, resource_id ASC LIMIT {top:UInt32}`,
      w.params,
      'summary_raw',
    ),
  ]);
  return { bySeverityOutcomeDay, byType, users, resources };
}

export async function summarizeFromRaw(store: Store, req: SummaryRequest): Promise<AuditSummary> {
  const w = summaryWindow(req);
  return assembleSummary(req, w, await summaryRowsFromRaw(store, w));
}
