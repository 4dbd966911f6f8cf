// §4 Materialized views vs raw: the summary the API serves from the views (issue 4) against the
// same aggregates from raw rows, on the largest query data set (10M rows in the full run),
// store level, same process, interleaved → the speed-up. Skipped until the views exist.
import type { BenchSection } from '../lib/context.ts';
import { skipped } from '../lib/context.ts';
import type { LatencySummary } from '../lib/stats.ts';
import { fmt } from '../lib/stats.ts';
import type { QueryParamsChosen } from './query-cases.ts';

export const viewsSection: BenchSection = {
  ids: ['4'],
  title: 'Materialized views vs raw',
  async run(ctx) {
    const params = ctx.shared.queryParams as QueryParamsChosen | undefined;
    const rows = ctx.shared.queryRows as number | undefined;
    if (!params || !rows) return [skipped('4', this.title, 'needs the data set of §3 (run with --sections=3,4)')];
    const w = await ctx.engine('queries'); // the same data directory: the data set is still there
    const r = await w.call<{ skipped?: string; views?: LatencySummary; raw?: LatencySummary; source?: string }>('viewsVsRaw', {
      database: 'bench_queries', params, iterations: ctx.opts.query.iterations, budgetMs: ctx.opts.query.budgetMs,
    });
    if (r.skipped) return [skipped('4', this.title, r.skipped)];
    const speedup = r.raw!.p50 / r.views!.p50;
    return [{
      id: '4',
      title: this.title,
      rows: [{
        section: '4',
        measure: `summary of 30 days for ${params.tenant} @ ${fmt(rows / 1e6, 0)}M rows: views vs raw (p50 / p95)`,
        value: `${fmt(r.views!.p50)} / ${fmt(r.views!.p95)} ms`,
        peer: `${fmt(r.raw!.p50)} / ${fmt(r.raw!.p95)} ms`,
        ratio: `${fmt(speedup)}×`,
        target: '≥ 20×',
        met: rows >= 10_000_000 ? speedup >= 20 : undefined,
      }],
      notes: [`${r.source}: the same summary (totals, daily series, top users and resources) both ways.`],
    }];
  },
};
