// Engine side of §3/§5/§8: query timings at the store level (next to the engine, the way the
// service runs them), the Postgres peer's timings from the same process (interleaved per query,
// so drift hits both), storage figures, the export rate, and loading the same rows into Postgres.
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { SELECT_EVENT } from '../../src/store/activity-rows.ts';
import { listEvents } from '../../src/store/activities.ts';
import type { EngineOp } from '../lib/engine-worker.ts';
import { generatorParams, generatorSelect } from '../lib/dataset.ts';
import { PG_COPY } from '../lib/postgres.ts';
import { sample, summarize, type LatencySummary } from '../lib/stats.ts';
import { chAggregates, queryCases, type QueryParamsChosen } from './query-cases.ts';
import { findSummary } from './views.engine.ts';

export interface CaseResult {
  name: string;
  group: string;
  ch: LatencySummary;
  pg?: LatencySummary;
}

async function pgClient(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, options: '-c TimeZone=UTC' });
  await c.connect();
  return c;
}

export const queryOps: Record<string, EngineOp> = {
  /** Picks the query parameters from the data: the biggest tenant, a mid-activity user, ids... */
  async chooseParams(c, a): Promise<QueryParamsChosen> {
    const s = await c.store(a.database as string);
    const t = s.table('audit_activities');
    const tenant = 'tenant-0001';
    const [{ n: tenantRows } = { n: '0' }] = await s.query<{ n: string }>(`SELECT count() AS n FROM ${t} WHERE tenant_id = {tenant:String}`, { tenant });
    // The 50th most active user: a real person's trail, neither the top bot nor a one-off.
    const users = await s.query<{ user_id: string; n: string }>(
      `SELECT user_id, count() AS n FROM ${t} WHERE tenant_id = {tenant:String} GROUP BY user_id ORDER BY n DESC, user_id LIMIT 1 OFFSET 49`, { tenant });
    const resources = await s.query<{ resource_id: string }>(
      `SELECT resource_id FROM ${t} WHERE tenant_id = {tenant:String} AND resource_type = 'file' GROUP BY resource_id HAVING count() BETWEEN 3 AND 20 ORDER BY resource_id LIMIT 1`, { tenant });
    const ids = await s.query<{ id: string }>(
      `SELECT toString(id) AS id FROM ${t} WHERE tenant_id = {tenant:String} ORDER BY cityHash64(id) LIMIT 300`, { tenant });
    const depth = a.depth as number;
    let cursor: { ts: number; id: string } | undefined;
    for (let page = 1; page < depth; page++) {
      const rows = await listEvents(s, tenant, {}, 50, cursor);
      const last = rows.at(-1);
      if (!last) break;
      cursor = { ts: Date.parse(last.timestamp), id: last.id };
    }
    return {
      tenant,
      tenantRows: Number(tenantRows),
      user: users[0]?.user_id ?? 'nobody',
      userRows: Number(users[0]?.n ?? 0),
      resourceId: resources[0]?.resource_id ?? 'none',
      ids: ids.map((r) => r.id),
      nowMs: a.nowMs as number,
      deepCursor: cursor,
      depth,
    };
  },

  /** Times every case on the engine and, when a Postgres URL is given, on the peer right after. */
  async runQueries(c, a): Promise<CaseResult[]> {
    const s = await c.store(a.database as string);
    const p = a.params as QueryParamsChosen;
    const pgc = a.pgUrl ? await pgClient(a.pgUrl as string) : undefined;
    const only = a.only as string[] | undefined;
    const o = { iterations: a.iterations as number, budgetMs: a.budgetMs as number, warmup: 2 };
    const out: CaseResult[] = [];
    try {
      for (const q of queryCases(p)) {
        if (only && !only.some((x) => q.name.startsWith(x))) continue;
        const ch = summarize(await sample((i) => q.ch(s, i), o));
        const pgs = pgc && q.pg ? summarize(await sample((i) => q.pg!(pgc, i), o)) : undefined;
        out.push({ name: q.name, group: q.group, ch, ...(pgs ? { pg: pgs } : {}) });
        process.stderr.write(`    ${q.name}: ch p50 ${ch.p50.toFixed(1)} p95 ${ch.p95.toFixed(1)}${pgs ? ` | pg p50 ${pgs.p50.toFixed(1)} p95 ${pgs.p95.toFixed(1)}` : ''} ms\n`);
      }
    } finally {
      await pgc?.end();
    }
    return out;
  },

  /** Streams one tenant's events as NDJSON (the export's shape) and measures rows/s. */
  async exportRate(c, a) {
    const s = await c.store(a.database as string);
    const t = performance.now();
    let bytes = 0;
    let rows = 0;
    for await (const chunk of s.stream(
      `SELECT ${SELECT_EVENT} FROM ${s.table('audit_activities')} WHERE tenant_id = {tenant:String} ORDER BY timestamp DESC, id DESC`,
      { tenant: a.tenant }, 'JSONEachRow')) {
      bytes += Buffer.byteLength(chunk);
      for (let i = chunk.indexOf('\n'); i >= 0; i = chunk.indexOf('\n', i + 1)) rows++;
    }
    return { rows, bytes, ms: performance.now() - t };
  },

  /** Bytes on disk (all of it: columns, marks, primary and skip indexes) against the NDJSON size. */
  async storage(c, a) {
    const database = a.database as string;
    const s = await c.store(database);
    const [parts] = await s.query<Record<string, string>>(
      `SELECT sum(rows) AS rows, sum(bytes_on_disk) AS on_disk, sum(data_compressed_bytes) AS compressed,
              sum(data_uncompressed_bytes) AS uncompressed, count() AS parts
       FROM system.parts WHERE database = {db:String} AND table = 'audit_activities' AND active`, { db: database });
    // system.parts_columns, not system.columns: the latter leaves out parts in compact format.
    const columns = await s.query<{ name: string; compressed: string; uncompressed: string }>(
      `SELECT column AS name, sum(column_data_compressed_bytes) AS compressed, sum(column_data_uncompressed_bytes) AS uncompressed
       FROM system.parts_columns WHERE database = {db:String} AND table = 'audit_activities' AND active
       GROUP BY column ORDER BY compressed DESC`, { db: database });
    const indexes = await s.query<{ name: string; compressed: string }>(
      `SELECT name, data_compressed_bytes AS compressed FROM system.data_skipping_indices
       WHERE database = {db:String} AND table = 'audit_activities' ORDER BY data_compressed_bytes DESC`, { db: database });
    const projections = await s.query<{ name: string; on_disk: string }>(
      `SELECT name, sum(bytes_on_disk) AS on_disk FROM system.projection_parts
       WHERE database = {db:String} AND table = 'audit_activities' AND active GROUP BY name`, { db: database }).catch(() => []);
    // The NDJSON an export of every row would produce (the API's field names and formats).
    const [nd] = await s.query<{ bytes: string }>(
      `SELECT sum(length(formatRow('JSONEachRow', ${SELECT_EVENT}))) AS bytes FROM ${s.table('audit_activities')}`);
    return { ...parts, ndjson: nd!.bytes, columns, indexes, projections };
  },

  /**
   * §4: the summary as the API serves it (from the materialized views, issue 4) against the same
   * aggregates computed from raw rows, on the same data set, interleaved.
   */
  async viewsVsRaw(c, a) {
    const s = await c.store(a.database as string);
    const found = await findSummary();
    const p = a.params as QueryParamsChosen;
    const o = { iterations: a.iterations as number, budgetMs: a.budgetMs as number, warmup: 2 };
    const views = summarize(await sample(() => found.summary(s, p.tenant, 30), o));
    const rawRows = summarize(await sample(() => found.raw(s, p.tenant, 30), o));
    return { views, raw: rawRows, source: found.source };
  },

  /** Copies generated rows [start, start+count) into the peer's table: the same rows, bit for bit. */
  async pgLoad(c, a) {
    const s = await c.store(a.database as string);
    const pgc = await pgClient(a.pgUrl as string);
    const t = performance.now();
    try {
      const sql = `SELECT toString(id), tenant_id, toTimeZone(timestamp, 'UTC'), toTimeZone(received_at, 'UTC'), activity_type,
        severity, action, outcome, resource_type, user_agent, user_id, resource_id, ip_address, request_id, description, details
        FROM (${generatorSelect})`;
      const copy = pgc.query(copyFrom(PG_COPY));
      await pipeline(s.stream(sql, generatorParams(a.start as number, a.count as number, a.nowMs as number), 'TabSeparated'), copy as unknown as Writable);
    } finally {
      await pgc.end();
    }
    return performance.now() - t;
  },
};
