// Where the summary from materialized views lives once issue 4 lands. Coded against the obvious
// shape, a store-level function (store, tenant, days) => summary; the lead wires the real name
// here when merging (one place), and until then §4 reports "skipped".
import fs from 'node:fs';
import path from 'node:path';
import type { Store } from '../../src/store/client.ts';
import { repoRoot } from '../lib/features.ts';

export type SummaryFn = (store: Store, tenant: string, days: number) => Promise<unknown>;

const MODULES = ['src/summary/store.ts', 'src/summary/summary.ts', 'src/summary/index.ts', 'src/analytics/summary.ts', 'src/store/summary.ts'];
const EXPORTS = ['summaryFromViews', 'readSummary', 'getSummary', 'summary', 'querySummary'];

export async function findSummary(): Promise<{ summary: SummaryFn; source: string } | undefined> {
  for (const rel of MODULES) {
    const file = path.join(repoRoot, rel);
    if (!fs.existsSync(file)) continue;
    const mod = (await import(file)) as Record<string, unknown>;
    for (const name of EXPORTS) {
      const fn = mod[name];
      if (typeof fn === 'function') {
        return {
          source: `${rel}#${name}`,
          // Accepts (store, tenant, days) or (store, tenant, { days }).
          summary: (store, tenant, days) => (fn as (...a: unknown[]) => Promise<unknown>)(store, tenant, fn.length >= 3 ? days : { days }),
        };
      }
    }
  }
  return undefined;
}
