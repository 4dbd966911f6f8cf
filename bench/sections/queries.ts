// §3 Queries at scale, §5 storage of the query data set and §8 the Postgres peer, on the same
// data sets: the corpus generated inside the engine (1M, then grown to 10M rows), the very same
// rows copied into the guide's Postgres table, and the same queries timed on both, interleaved
// per query. The generated rows lack the columns the service fills in (integrity chains, MACs):
// their storage rows say so, and the §5 headline is storage.ts's rows posted through the service.
import path from 'node:path';
import type { BenchContext, BenchSection } from '../lib/context.ts';
import { skipped } from '../lib/context.ts';
import { PG_INDEX_NAMES, PG_INDEXES, PG_TABLE } from '../lib/postgres.ts';
import type { ResultRow, SectionResult } from '../lib/report.ts';
import { fmt } from '../lib/stats.ts';
import type { CaseResult } from './queries.engine.ts';
import { httpPointReads, type HttpRun } from './queries.http.ts';
import type { QueryParamsChosen } from './query-cases.ts';

const DB = 'bench_queries';

interface ScaleResult {
  rows: number;
  genMs: number;
  pgLoadMs?: number;
  params: QueryParamsChosen;
  cases: CaseResult[];
  export: { rows: number; bytes: number; ms: number };
  storage: {
    rows: string;
    on_disk: string;
    compressed: string;
    uncompressed: string;
    parts: string;
    ndjson: string;
    columns: Array<{ name: string; compressed: string; uncompressed: string }>;
    indexes: Array<{ name: string; compressed: string }>;
    projections: Array<{ name: string; on_disk: string }>;
  };
  pgBytes?: number;
  /** The point reads through the API: read cache off, then on. */
  http?: HttpRun[];
}

/** §4 at one scale: the summary from the views and from raw rows (store level). */
export interface ViewsAtScale {
  rows: number;
  tenant: string;
  views: { p50: number; p95: number };
  raw: { p50: number; p95: number };
  source: string;
}

const scaleName = (n: number) => (n >= 1e6 ? `${fmt(n / 1e6, n % 1e6 ? 1 : 0)}M` : `${fmt(n / 1e3, 0)}k`);
const ms = (s: { p50: number; p95: number }) => `${fmt(s.p50)} / ${fmt(s.p95)} ms`;

function targetFor(c: CaseResult, atScale: boolean): Pick<ResultRow, 'target' | 'met'> {
  const speedup = c.pg ? c.pg.p50 / c.ch.p50 : undefined;
  if (c.group === 'point') return { target: 'on par with Postgres (≥ 1×)', met: atScale && speedup !== undefined ? speedup >= 1 : undefined };
  if (c.group === 'filter' || c.group === 'cursor') return { target: 'p95 ≤ 100 ms', met: atScale ? c.ch.p95 <= 100 : undefined };
  if (c.group === 'analytics' || c.group === 'text') {
    return { target: '≥ 10× Postgres', met: atScale && speedup !== undefined ? speedup >= 10 : undefined };
  }
  return {};
}

function caseRows(r: ScaleResult, evaluate: boolean): ResultRow[] {
  const rows: ResultRow[] = r.cases.map((c) => ({
    section: '3',
    measure: `${c.name} @ ${scaleName(r.rows)} (p50 / p95)`,
    value: ms(c.ch),
    peer: c.pg ? ms(c.pg) : undefined,
    ratio: c.pg ? `${fmt(c.pg.p50 / c.ch.p50)}×` : undefined,
    ...targetFor(c, evaluate),
  }));
  rows.push({
    section: '3',
    measure: `export: one tenant as NDJSON, streamed @ ${scaleName(r.rows)} (${fmt(r.export.rows, 0)} rows)`,
    value: `${fmt((r.export.rows / r.export.ms) * 1000, 0)} rows/s (${fmt(r.export.bytes / 2 ** 20 / (r.export.ms / 1000), 0)} MiB/s)`,
  });
  return rows;
}

/** §3's HTTP rows: the read cache on (value) against the same service with it off (peer column). */
function httpRows(r: ScaleResult, evaluate: boolean): ResultRow[] {
  const off = r.http?.find((h) => h.cacheMb === 0);
  const on = r.http?.find((h) => h.cacheMb > 0);
  if (!on) return [];
  const f = (c: { p50: number; p95: number; p99: number }) => `${fmt(c.p50)} / ${fmt(c.p95)} / ${fmt(c.p99)} ms`;
  return on.cases.filter((c) => c.group === 'point').map((c) => {
    const base = off?.cases.find((x) => x.name === c.name);
    return {
      section: '3',
      measure: `HTTP ${c.name} @ ${scaleName(r.rows)} (p50 / p95 / p99)`,
      value: f(c),
      peer: base ? f(base) : undefined,
      ratio: base ? `${fmt(base.p50 / c.p50)}×` : undefined,
      target: 'p50 ≤ 5 ms, p99 ≤ 20 ms',
      met: evaluate ? c.p50 <= 5 && c.p99 <= 20 : undefined,
    };
  });
}

function storageRows(r: ScaleResult): ResultRow[] {
  const rows = Number(r.storage.rows);
  const perEvent = Number(r.storage.on_disk) / rows;
  const ndjson = Number(r.storage.ndjson);
  // No target here: these rows are not what the service stores (the target is on storage.ts's).
  const out: ResultRow[] = [
    {
      section: '5',
      measure: `generated rows (INSERT … SELECT in the engine, without the service-filled integrity columns), the query data set: bytes per event on disk @ ${scaleName(r.rows)} (columns, marks, indexes${r.storage.projections.length ? ', projections' : ''}; Postgres: the same rows)`,
      value: fmt(perEvent, 1),
      peer: r.pgBytes ? fmt(r.pgBytes / rows, 1) : undefined,
      ratio: r.pgBytes ? `${fmt(r.pgBytes / rows / perEvent)}× smaller` : undefined,
    },
    {
      section: '5',
      measure: `… generated rows: compression vs NDJSON @ ${scaleName(r.rows)} (${fmt(ndjson / rows, 0)} B/event as NDJSON)`,
      value: `${fmt(ndjson / Number(r.storage.on_disk), 1)}×`,
    },
  ];
  return out;
}

function storageDetails(r: ScaleResult): string {
  const rows = Number(r.storage.rows);
  const lines = [`Generated rows (no service-filled columns), per-column bytes/event at ${scaleName(r.rows)} (compressed; uncompressed in brackets), ${r.storage.parts} active parts:`, ''];
  lines.push('| column | B/event |', '|---|---:|');
  for (const c of r.storage.columns) lines.push(`| ${c.name} | ${fmt(Number(c.compressed) / rows, 2)} (${fmt(Number(c.uncompressed) / rows, 1)}) |`);
  for (const i of r.storage.indexes) lines.push(`| index ${i.name} | ${fmt(Number(i.compressed) / rows, 2)} |`);
  for (const p of r.storage.projections) lines.push(`| projection ${p.name} | ${fmt(Number(p.on_disk) / rows, 2)} |`);
  return lines.join('\n');
}

export const querySection: BenchSection = {
  ids: ['3', '5', '8'],
  title: 'Queries at scale',
  async run(ctx: BenchContext) {
    let w = await ctx.engine('queries');
    const pgUrl = ctx.opts.sections.has('8') || ctx.opts.sections.has('3') ? ctx.postgres?.url : undefined;
    const pgc = pgUrl ? await ctx.postgres!.client() : undefined;
    const scales: ScaleResult[] = [];
    let have = 0;
    try {
      if (pgc) {
        await pgc.query('DROP TABLE IF EXISTS audit_activities');
        await pgc.query(PG_TABLE);
      }
      for (const n of ctx.opts.scales) {
        ctx.log(`  ${scaleName(n)} rows: generating ${fmt(n - have, 0)}`);
        const genMs = await w.call<number>('generate', { database: DB, start: have, count: n - have, nowMs: ctx.nowMs });
        let pgLoadMs: number | undefined;
        if (pgc) {
          // Bulk load, the peer's best case: indexes dropped, COPY, indexes rebuilt, then ANALYZE.
          const t = performance.now();
          for (const name of PG_INDEX_NAMES) await pgc.query(`DROP INDEX IF EXISTS ${name}`);
          await w.call('pgLoad', { database: DB, pgUrl, start: have, count: n - have, nowMs: ctx.nowMs });
          for (const ddl of PG_INDEXES) await pgc.query(ddl);
          await pgc.query('VACUUM ANALYZE audit_activities');
          pgLoadMs = performance.now() - t;
          ctx.log(`  postgres loaded in ${fmt(pgLoadMs / 1000, 0)} s`);
        }
        have = n;
        // A settled table, as history is once background merges are done: one part per month.
        const tm = performance.now();
        await w.call('command', { database: DB, sql: `OPTIMIZE TABLE \`${DB}\`.audit_activities FINAL` });
        await w.call('waitMerges', { database: DB, timeoutMs: 120_000 });
        ctx.log(`  merged in ${fmt((performance.now() - tm) / 1000, 0)} s`);
        const params = await w.call<QueryParamsChosen>('chooseParams', { database: DB, nowMs: ctx.nowMs, depth: ctx.opts.query.cursorDepth });
        ctx.log(`  ${scaleName(n)}: ${params.tenant} holds ${fmt(params.tenantRows, 0)} rows${ctx.opts.sections.has('3') || ctx.opts.sections.has('8') ? '; timing queries' : ''}`);
        // Only the data set's storage wanted (--sections=5): no query timings.
        const timed = ctx.opts.sections.has('3') || ctx.opts.sections.has('8');
        const cases = timed ? await w.call<CaseResult[]>('runQueries', { database: DB, params, pgUrl, iterations: ctx.opts.query.iterations, budgetMs: ctx.opts.query.budgetMs }) : [];
        const exp = timed ? await w.call<ScaleResult['export']>('exportRate', { database: DB, tenant: params.tenant }) : { rows: 0, bytes: 0, ms: 1 };
        const storage = await w.call<ScaleResult['storage']>('storage', { database: DB });
        let pgBytes: number | undefined;
        if (pgc) pgBytes = Number((await pgc.query<{ b: string }>(`SELECT pg_total_relation_size('audit_activities') AS b`)).rows[0]!.b);
        if (ctx.opts.sections.has('4')) {
          // §4 at every scale (the curve), store level, on the same settled data.
          const v = await w.call<{ skipped?: string; views?: ViewsAtScale['views']; raw?: ViewsAtScale['raw']; source?: string }>('viewsVsRaw', {
            database: DB, params, iterations: ctx.opts.query.iterations, budgetMs: ctx.opts.query.budgetMs,
          });
          if (!v.skipped) ((ctx.shared.viewsByScale ??= []) as ViewsAtScale[]).push({ rows: n, tenant: params.tenant, views: v.views!, raw: v.raw!, source: v.source! });
        }
        let httpRuns: HttpRun[] | undefined;
        if (ctx.opts.sections.has('3') && ctx.opts.query.http) {
          // The service opens this very engine directory: the worker steps aside meanwhile.
          const dir = path.join(ctx.root, 'engines', 'queries');
          await ctx.stopEngine('queries');
          const o = { iterations: ctx.opts.query.httpIterations, budgetMs: ctx.opts.query.budgetMs };
          ctx.log(`  ${scaleName(n)}: the same reads through HTTP, read cache off then on`);
          httpRuns = [await httpPointReads(dir, DB, params, 0, o), await httpPointReads(dir, DB, params, 64, o)];
          w = await ctx.engine('queries');
        }
        scales.push({ rows: n, genMs, ...(pgLoadMs !== undefined ? { pgLoadMs } : {}), params, cases, export: exp, storage, ...(pgBytes !== undefined ? { pgBytes } : {}), ...(httpRuns ? { http: httpRuns } : {}) });
      }
    } finally {
      await pgc?.end();
    }

    const largest = scales.at(-1)!;
    ctx.shared.queryParams = largest.params;
    ctx.shared.queryRows = largest.rows;
    ctx.shared.queryScales = scales;
    const evaluate = largest.rows >= 10_000_000;
    const q: SectionResult = {
      id: '3',
      title: this.title,
      rows: [...caseRows(largest, evaluate), ...httpRows(largest, evaluate)],
      notes: [
        `Store level: the functions the API calls (src/store/activities.ts) in a process next to the engine; Postgres through \`pg\` from the same process, right after each query (ratio = Postgres p50 / audithouse p50, > 1 = audithouse faster).`,
        ...(largest.http ? [`HTTP rows: \`audithouse serve\` on the same data (bench/sections/queries.http.ts), one loopback keep-alive connection, one request at a time, the JWT verified and the access log on as in production; value = read cache on (64 MiB), peer column = the same service with AUDIT_READ_CACHE_MB=0 (every read from the engine), ratio = off / on. By id at random over history mostly misses the cache (it holds what was written or read lately); by id of a feed event is the common case.`] : []),
        `Tenant ${largest.params.tenant} (the biggest, ${fmt(largest.params.tenantRows, 0)} of ${fmt(largest.rows, 0)} rows); up to ${ctx.opts.query.iterations} runs per query after 2 warm-ups, fewer when a query's ${ctx.opts.query.budgetMs / 1000} s budget runs out (at least 5).`,
        ...(evaluate ? [] : [`Targets are judged at 10M rows; this run's largest data set is ${scaleName(largest.rows)}, so "Met" is left empty.`]),
        ...scales.map((s) => `${scaleName(s.rows)} rows generated in ${fmt(s.genMs / 1000, 1)} s (${fmt((s.rows / s.genMs) * 1000, 0)} rows/s incl. growth)${s.pgLoadMs ? `; Postgres bulk load + index build ${fmt(s.pgLoadMs / 1000, 0)} s` : ''}.`),
      ],
      details: scales.length > 1 ? ['| Query | audithouse | Postgres | Ratio |', '|---|---:|---:|---:|', ...scales.slice(0, -1).flatMap((s) => [...caseRows(s, false), ...httpRows(s, false)].map((r) => `| ${r.measure} | ${r.value} | ${r.peer ?? ''} | ${r.ratio ?? ''} |`))].join('\n') : undefined,
      data: { scales },
    };
    const st: SectionResult = {
      id: '5',
      title: 'Storage: the query data set (generated rows)',
      rows: scales.flatMap(storageRows),
      details: storageDetails(largest),
    };
    let peer: SectionResult;
    if (!ctx.postgres) peer = skipped('8', 'Postgres peer', ctx.postgresMissing ?? 'Postgres not started');
    else {
      const rows: ResultRow[] = [];
      const pgIngest = ctx.shared.pgIngest as number | undefined;
      const httpIngest = ctx.shared.httpIngest as number | undefined;
      if (pgIngest && httpIngest) {
        rows.push({ section: '8', measure: 'ingest: audithouse over HTTP (stored events/s, §1) vs Postgres COPY of the same events into the indexed table', value: fmt(httpIngest, 0), peer: fmt(pgIngest, 0), ratio: `${fmt(httpIngest / pgIngest)}×` });
      }
      if (largest.pgBytes) {
        const ch = Number(largest.storage.on_disk) / largest.rows;
        const pb = largest.pgBytes / largest.rows;
        rows.push({ section: '8', measure: `bytes per event @ ${scaleName(largest.rows)}, the same generated rows in both (Postgres: table + TOAST + indexes)`, value: fmt(ch, 1), peer: fmt(pb, 1), ratio: `${fmt(pb / ch)}×` });
      }
      rows.push({ section: '8', measure: 'queries: see §3 (Baseline / peer column)', value: '' });
      peer = {
        id: '8',
        title: 'Postgres peer',
        rows,
        notes: [`${ctx.postgres.version}, own temporary cluster on loopback: ${ctx.postgres.settings.join(', ')}. The guide's table and indexes; the same rows (COPY).`],
      };
    }
    return [q, st, peer];
  },
};
