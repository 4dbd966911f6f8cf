// SQL access to audit_activities. Every value is bound ({name:Type}); dynamic filters are an
// array of bound conditions joined with AND; the tenant condition is always the first.
import { MAX_FUTURE_MS } from '../event/limits.ts';
import type { AuditEvent, EventRow } from '../event/model.ts';
import { ACTIVITIES_TABLE as TABLE, EVENT_SHAPE, ROW_SHAPE, type EventRecord, type RowShape } from './activity-rows.ts';
import type { QueryParams, Store } from './client.ts';

/** Which of these ids a tenant has stored. */
export async function storedIds(store: Store, tenant: string, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const found = await store.read<{ event_id: string }>(
    `SELECT toString(id) AS event_id FROM ${store.table(TABLE)} WHERE tenant_id = {tenant:String} AND id IN {ids:Array(UUID)}`,
    { tenant, ids: [...new Set(ids)] },
    'get',
  );
  return new Set(found.map((r) => r.event_id));
}

/**
 * Which (tenant, id) pairs are already stored. Looked up by id alone, the pairs matched here: the
 * idx_id_time minmax index (migration 0060) narrows UUIDv7 ids to a granule or two without any
 * tenant condition, while adding `tenant_id IN (...)` made the engine run a set search over the
 * primary key for every tenant of the batch (2–3× the CPU of the whole lookup, measured in bench/).
 * Other ids fall back to the bloom filter.
 */
export async function existingKeys(store: Store, rows: readonly EventRow[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const ids = [...new Set(rows.map((r) => r.id))];
  const found = await store.query<{ tenant_id: string; event_id: string }>(
    `SELECT tenant_id, toString(id) AS event_id FROM ${store.table(TABLE)} WHERE id IN {ids:Array(UUID)}`,
    { ids },
    'dedupe',
  );
  return new Set(found.map((r) => eventKey({ tenant_id: r.tenant_id, id: r.event_id })));
}

export const eventKey = (r: Pick<EventRow, 'tenant_id' | 'id'>) => `${r.tenant_id}\u0000${r.id}`;

export interface ActivityFilters {
  user_id?: string | undefined;
  activity_type?: string[] | undefined;
  severity?: string[] | undefined;
  outcome?: string | undefined;
  action?: string | undefined;
  resource_type?: string | undefined;
  resource_id?: string | undefined;
  /** Inclusive lower bound, epoch ms. */
  since?: number | undefined;
  /** Exclusive upper bound, epoch ms. */
  until?: number | undefined;
  /** Case-insensitive text in description. */
  q?: string | undefined;
}

export interface Cursor {
  ts: number;
  id: string;
}

/** Escapes LIKE metacharacters so q matches literally. */
const likeLiteral = (s: string) => s.replace(/[\\%_]/g, (m) => `\\${m}`);

/** Bound WHERE conditions for a tenant and its filters. */
export function whereClause(tenant: string, f: ActivityFilters, cursor?: Cursor): { sql: string; params: QueryParams } {
  const conds = ['tenant_id = {tenant:String}'];
  const params: QueryParams = { tenant };
  const eq = (col: keyof ActivityFilters & string, type = 'String') => {
    const v = f[col];
    if (v === undefined) return;
    conds.push(`${col} = {${col}:${type}}`);
    params[col] = v;
  };
  eq('user_id');
  eq('action');
  eq('resource_type');
  eq('resource_id');
  if (f.outcome !== undefined) {
    conds.push('outcome = {outcome:String}');
    params.outcome = f.outcome;
  }
  if (f.activity_type?.length) {
    conds.push('activity_type IN {activity_type:Array(String)}');
    params.activity_type = f.activity_type;
  }
  if (f.severity?.length) {
    conds.push('severity IN {severity:Array(String)}');
    params.severity = f.severity;
  }
  if (f.since !== undefined) {
    conds.push('timestamp >= fromUnixTimestamp64Milli({since:Int64})');
    params.since = f.since;
  }
  if (f.until !== undefined) {
    conds.push('timestamp < fromUnixTimestamp64Milli({until:Int64})');
    params.until = f.until;
  }
  if (f.q !== undefined && f.q !== '') {
    if (/^[\x00-\x7F]*$/.test(f.q)) {
      // Same expression as the ngrambf index (lower(description)), so the index can skip granules.
      conds.push('lower(description) LIKE {q_like:String}');
      params.q_like = `%${likeLiteral(f.q.toLowerCase())}%`;
    } else {
      // Beyond ASCII, lower() leaves letters like Ä alone: case-fold with the UTF-8 aware search.
      conds.push('positionCaseInsensitiveUTF8(description, {q:String}) > 0');
      params.q = f.q;
    }
  }
  if (cursor) {
    // The first condition lets the primary key prune; the tuple makes ties on timestamp exact.
    conds.push('timestamp <= fromUnixTimestamp64Milli({cursor_ts:Int64})');
    conds.push('(timestamp, id) < (fromUnixTimestamp64Milli({cursor_ts:Int64}), {cursor_id:UUID})');
    params.cursor_ts = cursor.ts;
    params.cursor_id = cursor.id;
  }
  return { sql: conds.join(' AND '), params };
}

/** One page straight from the table in a row shape: the rows matching, newest first, in one engine round trip. */
async function page<R, T>(store: Store, shape: RowShape<R, T>, tenant: string, filters: ActivityFilters, limit: number, cursor?: Cursor): Promise<T[]> {
  const where = whereClause(tenant, filters, cursor);
  const rows = await store.read<R>(
    `SELECT ${shape.select} FROM ${store.table(TABLE)} WHERE ${where.sql}
     ORDER BY timestamp DESC, id DESC LIMIT {limit:UInt32}`,
    { ...where.params, limit },
    'list',
  );
  return rows.map(shape.parse);
}

/** One page of events straight from the table, newest first. */
export const queryPage = (store: Store, tenant: string, filters: ActivityFilters, limit: number, cursor?: Cursor): Promise<AuditEvent[]> =>
  page(store, EVENT_SHAPE, tenant, filters, limit, cursor);

/**
 * Rows in stored form, newest first: one page (or a read cache's load) straight from the table.
 * One engine round trip: read caches call it once per load, not once per window.
 */
export const queryRows = (store: Store, tenant: string, filters: ActivityFilters, limit: number, cursor?: Cursor): Promise<EventRow[]> =>
  page(store, ROW_SHAPE, tenant, filters, limit, cursor);

/** The first window a page is looked for in, back from its newest possible row. */
const FIRST_WINDOW_MS = 86_400_000;
/** Most a window grows in one step; a sparser first window goes straight to the unbounded query. */
const MAX_GROWTH = 16;

/**
 * A page of events, newest first, found window by window: a page mostly comes from the last
 * day, and a lower time bound lets the engine skip other months' partitions and most of the
 * tenant's key range (at 10M rows 10–35% less CPU for the feed and most filters; on small
 * tables a second window costs another ~8 ms query, see BENCHMARKS.md). Each window asks
 * only for rows older than the previous one (`until` = its lower bound), so nothing is read
 * twice and the concatenation is exactly the page the unbounded query returns. At most three
 * queries: the last day, a window sized by the density seen, then everything older.
 */
export async function listEvents(
  store: Store,
  tenant: string,
  filters: ActivityFilters,
  limit: number,
  cursor?: Cursor,
): Promise<AuditEvent[]> {
  // No stored row is newer than this (ingest refuses timestamps over 5 minutes ahead); the
  // windows only add lower bounds, so even such a row would still be found.
  const anchor = Math.min(cursor?.ts ?? Infinity, filters.until ?? Infinity, Date.now() + MAX_FUTURE_MS);
  const out: AuditEvent[] = [];
  let until = filters.until;
  let width = FIRST_WINDOW_MS;
  for (let step = 0; ; step++) {
    const lower = step < 2 && Number.isFinite(width) ? anchor - width : -Infinity;
    const windowed = filters.since === undefined ? lower > -Infinity : filters.since < lower;
    const page = await queryPage(store, tenant, { ...filters, until, ...(windowed ? { since: lower } : {}) }, limit - out.length, cursor);
    out.push(...page);
    if (out.length >= limit || !windowed) return out;
    until = lower;
    // Grow by the density seen (twice what should suffice); a sparse result means the rest
    // spans most of the range anyway, and one unbounded query beats two more windows.
    const growth = out.length === 0 ? Infinity : Math.ceil((2 * limit) / out.length);
    width = growth > MAX_GROWTH ? Infinity : width * growth;
  }
}

/** One stored row by id in a row shape, or undefined. */
async function byId<R, T>(store: Store, shape: RowShape<R, T>, tenant: string, id: string): Promise<T | undefined> {
  const rows = await store.read<R>(
    `SELECT ${shape.select} FROM ${store.table(TABLE)} WHERE tenant_id = {tenant:String} AND id = {id:UUID} LIMIT 1`,
    { tenant, id },
    'get',
  );
  return rows[0] ? shape.parse(rows[0]) : undefined;
}

/** One stored row by id, in stored form (for the read cache), or undefined. */
export const getRow = (store: Store, tenant: string, id: string) => byId(store, ROW_SHAPE, tenant, id);

export const getEvent = (store: Store, tenant: string, id: string) => byId(store, EVENT_SHAPE, tenant, id);

/**
 * Streams a tenant's events, newest first, in batches as the store produces them: the whole
 * result is never in memory (the sort key makes this a reverse in-order read, no sort buffer).
 */
export async function* streamEvents(
  store: Store,
  tenant: string,
  filters: ActivityFilters,
  opts: { limit?: number | undefined; signal?: AbortSignal } = {},
): AsyncGenerator<AuditEvent[]> {
  const where = whereClause(tenant, filters);
  const params: QueryParams = { ...where.params };
  let sql = `SELECT ${EVENT_SHAPE.select} FROM ${store.table(TABLE)} WHERE ${where.sql} ORDER BY timestamp DESC, id DESC`;
  if (opts.limit !== undefined) {
    sql += ' LIMIT {limit:UInt64}';
    params.limit = opts.limit;
  }
  for await (const records of store.rows<EventRecord>(sql, params, 'stream', opts.signal)) yield records.map((r) => EVENT_SHAPE.parse(r));
}
