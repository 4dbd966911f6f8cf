// §4 Materialized views vs raw: the summary the API serves from the views (issue 4) against the
// same aggregates from raw rows, at every scale of §3's data set (1M, then 10M rows in the full
// run), store level, same process → the speed-up, and the curve: a summary from the views should
// cost the same at 10M as at 1M (issue 18: p95 within 1.5×) while the raw reference grows. Then
// the summary as a client gets it (HTTP, the summary cache off and on; §3's service runs).
import type { BenchSection } from '../lib/context.ts';
import { skipped } from '../lib/context.ts';
import type { ResultRow } from '../lib/report.ts';
import { fmt } from '../lib/stats.ts';
import type { ViewsAtScale } from './queries.ts';
import type { HttpRun } from './queries.http.ts';

const scaleName = (n: number) => (n >= 1e6 ? `${fmt(n / 1e6, n % 1e6 ? 1 : 0)}M` : `${fmt(n / 1e3, 0)}k`);

export const viewsSection: BenchSection = {
  ids: ['4'],
  title: 'Materialized views vs raw',
  async run(ctx) {
    const curve = ctx.shared.viewsByScale as ViewsAtScale[] | undefined;
    if (!curve?.length) return [skipped('4', this.title, 'needs the data set of §3 (run with --sections=3,4)')];
    const largest = curve.at(-1)!;
    const first = curve[0]!;
    const rows: ResultRow[] = curve.map((v) => ({
      section: '4',
      measure: `summary of 30 days for ${v.tenant} @ ${scaleName(v.rows)} rows: views vs raw (p50 / p95)`,
      value: `${fmt(v.views.p50)} / ${fmt(v.views.p95)} ms`,
      peer: `${fmt(v.raw.p50)} / ${fmt(v.raw.p95)} ms`,
      ratio: `${fmt(v.raw.p50 / v.views.p50)}×`,
      target: v === largest ? '≥ 20×, p95 ≤ 20 ms' : undefined,
      met: v === largest && v.rows >= 10_000_000 ? v.raw.p50 / v.views.p50 >= 20 && v.views.p95 <= 20 : undefined,
    }));
    if (curve.length > 1) {
      rows.push({
        section: '4',
        measure: `growth ${scaleName(first.rows)} → ${scaleName(largest.rows)}: views p95 (raw p95 beside it)`,
        value: `${fmt(largest.views.p95 / first.views.p95)}×`,
        peer: `${fmt(largest.raw.p95 / first.raw.p95)}×`,
        target: '≤ 1.5×',
        met: largest.rows >= 10 * first.rows ? largest.views.p95 / first.views.p95 <= 1.5 : undefined,
      });
    }
    const scales = (ctx.shared.queryScales ?? []) as Array<{ rows: number; http?: HttpRun[] }>;
    for (const s of scales) {
      const at = (mb: (n: number) => boolean) => s.http?.find((h) => mb(h.cacheMb))?.cases.find((c) => c.group === 'summary');
      const on = at((n) => n > 0);
      const off = at((n) => n === 0);
      if (!on) continue;
      const f = (c: { p50: number; p95: number; p99: number }) => `${fmt(c.p50)} / ${fmt(c.p95)} / ${fmt(c.p99)} ms`;
      rows.push({
        section: '4',
        measure: `HTTP GET /summary?days=30 @ ${scaleName(s.rows)} (p50 / p95 / p99)`,
        value: f(on),
        peer: off ? f(off) : undefined,
        ratio: off ? `${fmt(off.p50 / on.p50)}×` : undefined,
      });
    }
    return [{
      id: '4',
      title: this.title,
      rows,
      notes: [
        `${largest.source}: the same summary (totals, daily series, top users and resources) both ways; the views in one engine round trip (src/analytics/summary.ts).`,
        'HTTP rows: value = the summary cache on (src/analytics/summary-cache.ts: loaded once, then kept exact by the writer), peer column = the same service with it off (each request reads the views).',
        ...(largest.rows >= 10_000_000 ? [] : [`Targets are judged at 10M rows; this run's largest data set is ${scaleName(largest.rows)}.`]),
      ],
    }];
  },
};
