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
  const query = <R>(sql: string) => store.query<R>(sql, w.params, 'summary_raw');
  /** A ranked list: events and failures per value of `keys`, most first, ties in key order, `limit` rows. */
  const ranked = <R>(keys: string[], limit: string, where = inWindow) =>
    query<R>(
      `SELECT ${keys.join(', ')}, count() AS n, countIf(outcome = 'failure') AS failed
       FROM ${raw} WHERE ${where} GROUP BY ${keys.join(', ')}
       ORDER BY n DESC, ${keys.map((k) => `${k} ASC`).join(', ')} LIMIT {${limit}:UInt32}`,
    );
  const [bySeverityOutcomeDay, byType, users, resources] = await Promise.all([
    query<SummaryRows['bySeverityOutcomeDay'][number]>(
      `SELECT toString(toDate(timestamp, 'UTC')) AS date, toString(severity) AS severity, toString(outcome) AS outcome, count() AS n
       FROM ${raw} WHERE ${inWindow} GROUP BY date, severity, outcome`,
    ),
    ranked<SummaryRows['byType'][number]>(['activity_type'], 'types_limit'),
    ranked<SummaryRows['users'][number]>(['user_id'], 'top'),
    ranked<SummaryRows['resources'][number]>(['resource_type', 'resource_id'], 'top', `${inWindow} AND resource_id != ''`),
  ]);
  return { bySeverityOutcomeDay, byType, users, resources };
}

export async function summarizeFromRaw(store: Store, req: SummaryRequest): Promise<AuditSummary> {
  const w = summaryWindow(req);
  return assembleSummary(req, w, await summaryRowsFromRaw(store, w));
}
