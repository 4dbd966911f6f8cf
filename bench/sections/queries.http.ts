// §3 through the HTTP API: the same point reads as the store-level cases (feed, recent, by user,
// by id, page N of the feed) and §4's summary, asked of the real service (`audithouse serve`) on
// the very data set §3 just timed, over one loopback keep-alive connection, one request at a
// time. Run twice in one go, read cache off (AUDIT_READ_CACHE_MB=0: every read goes to the
// engine) and on (the default of embedded mode), so the ratio comes from the same minute of the
// same busy machine.
import http from 'node:http';
import { ServiceProcess } from '../lib/service.ts';
import { percentile } from '../lib/stats.ts';
import type { QueryParamsChosen } from './query-cases.ts';

export interface HttpCaseResult {
  name: string;
  /** 'point' (§3 targets) or 'summary' (§4). */
  group: 'point' | 'summary';
  p50: number;
  p95: number;
  p99: number;
  n: number;
}

export interface HttpRun {
  cacheMb: number;
  cases: HttpCaseResult[];
}

const DAY = 86_400_000;

function getter(base: string, token: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.get(new URL(path, base), { agent, headers: { Authorization: `Bearer ${token}` } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
    });
  return { get, close: () => agent.destroy() };
}

async function time(get: (p: string) => Promise<{ status: number; body: string }>, path: (i: number) => string, o: { iterations: number; budgetMs: number }) {
  for (let i = 0; i < 3; i++) await get(path(-1 - i)); // warm-up: connection, first loads
  const ms: number[] = [];
  const deadline = performance.now() + o.budgetMs;
  for (let i = 0; i < o.iterations; i++) {
    const t = performance.now();
    const r = await get(path(i));
    ms.push(performance.now() - t);
    if (r.status !== 200) throw new Error(`GET ${path(i)}: ${r.status} ${r.body.slice(0, 300)}`);
    if (ms.length >= 20 && performance.now() > deadline) break;
  }
  return { p50: percentile(ms, 50), p95: percentile(ms, 95), p99: percentile(ms, 99), n: ms.length };
}

/**
 * Starts the service on `dataDir` (the engine worker that wrote it must be stopped: one process
 * per engine directory), times the reads, stops it. Retention stays off: it must not change the
 * data set between the runs.
 */
export async function httpPointReads(dataDir: string, database: string, p: QueryParamsChosen, cacheMb: number, o: { iterations: number; budgetMs: number }): Promise<HttpRun> {
  const svc = await ServiceProcess.start({
    dataDir,
    env: { CLICKHOUSE_DATABASE: database, AUDIT_READ_CACHE_MB: String(cacheMb), AUDIT_RETENTION_SCHEDULE: 'off', AUDIT_LOG_LEVEL: 'warn',
      // The per-token read limit (600/min) would cap a latency loop; it is not what is measured.
      AUDIT_READ_RATE_LIMIT: '0' },
  });
  const token = await svc.token({ tenant: p.tenant, scope: 'audit:read', sub: 'bench-reader' });
  const { get, close } = getter(svc.url, token);
  const list = '/api/v1/audit/activities';
  const cases: HttpCaseResult[] = [];
  try {
    // The cursor of page `depth`, walked through the API (its cursors are opaque).
    let cursor: string | null = null;
    for (let page = 1; page < p.depth; page++) {
      const r = JSON.parse((await get(`${list}?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)).body) as { next_cursor: string | null };
      cursor = r.next_cursor;
      if (!cursor) break;
    }
    const feedIds = (JSON.parse((await get(`${list}?limit=50`)).body) as { data: Array<{ id: string }> }).data.map((e) => e.id);
    const since = new Date(p.nowMs - 7 * DAY).toISOString();
    const run = async (name: string, group: HttpCaseResult['group'], path: (i: number) => string) => {
      const r = await time(get, path, o);
      cases.push({ name, group, ...r });
      process.stderr.write(`    http (cache ${cacheMb} MiB) ${name}: p50 ${r.p50.toFixed(1)} p95 ${r.p95.toFixed(1)} p99 ${r.p99.toFixed(1)} ms\n`);
    };
    await run('feed: latest 50 of the tenant', 'point', () => `${list}?limit=50`);
    await run('recent: last 7 days (/recent)', 'point', () => `${list}/recent?days=7&limit=50`);
    await run(`recent: since 7 days ago (list filter)`, 'point', () => `${list}?limit=50&since=${encodeURIComponent(since)}`);
    await run(`by user (${p.userRows} events)`, 'point', () => `${list}?limit=50&user_id=${encodeURIComponent(p.user)}`);
    await run('by id (random over the tenant\'s history)', 'point', (i) => `${list}/${p.ids[(i + p.ids.length * 4) % p.ids.length]}`);
    await run('by id (an event of the feed page)', 'point', (i) => `${list}/${feedIds[(i + 50 * 4) % feedIds.length]}`);
    if (cursor) await run(`cursor: page ${p.depth} of the feed`, 'point', () => `${list}?limit=50&cursor=${encodeURIComponent(cursor!)}`);
    await run('summary of 30 days (views)', 'summary', () => '/api/v1/audit/summary?days=30&top=10');
  } finally {
    close();
    await svc.stop();
  }
  return { cacheMb, cases };
}
