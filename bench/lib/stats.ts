// Small statistics helpers. Latencies are summarized by percentiles (nearest-rank), throughput
// by the median of several runs: on a shared 2-core machine the mean is dragged by outliers.

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export const median = (values: readonly number[]) => percentile(values, 50);

export interface LatencySummary {
  p50: number;
  p95: number;
  n: number;
}

export function summarize(ms: readonly number[]): LatencySummary {
  return { p50: percentile(ms, 50), p95: percentile(ms, 95), n: ms.length };
}

/**
 * Times `fn` after `warmup` untimed calls, `iterations` times or until `budgetMs` is spent
 * (whichever comes first, but at least `min` samples): a slow query must not eat the run.
 */
export async function sample(
  fn: (i: number) => Promise<unknown>,
  o: { iterations: number; warmup?: number; budgetMs?: number; min?: number },
): Promise<number[]> {
  for (let i = 0; i < (o.warmup ?? 2); i++) await fn(-1 - i);
  const out: number[] = [];
  const deadline = performance.now() + (o.budgetMs ?? Number.POSITIVE_INFINITY);
  for (let i = 0; i < o.iterations; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
    if (out.length >= (o.min ?? 5) && performance.now() > deadline) break;
  }
  return out;
}

export const round = (x: number, digits = 1) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);

/** 1234567 -> "1,234,567"; fractions kept for small numbers. */
export function fmt(x: number | undefined, digits?: number): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  const d = digits ?? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}
