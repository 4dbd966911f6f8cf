// §4: the summary the API serves (materialized views, src/analytics/summary.ts) and the same
// summary computed from raw rows (test/support/summary-reference.ts, which the tests prove equal).
import { summarize } from '../../src/analytics/summary.ts';
import { summarizeFromRaw } from '../../test/support/summary-reference.ts';
import type { Store } from '../../src/store/client.ts';

export type SummaryFn = (store: Store, tenant: string, days: number) => Promise<unknown>;

export async function findSummary(): Promise<{ summary: SummaryFn; raw: SummaryFn; source: string }> {
  return {
    source: 'src/analytics/summary.ts#summarize (views) vs test/support/summary-reference.ts#summarizeFromRaw (raw rows)',
    summary: (store, tenant, days) => summarize(store, { tenant, days, top: 10 }),
    raw: (store, tenant, days) => summarizeFromRaw(store, { tenant, days, top: 10 }),
  };
}
