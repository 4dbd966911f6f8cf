// SQL access to audit_activities. Every value is bound ({name:Type}); dynamic filters are an
// array of bound conditions joined with AND; the tenant condition is always the first.
import { EVENT_COLUMNS, rowValues, type AuditEvent, type EventRow } from '../ingest/event.ts';
import type { QueryParams, Store } from './client.ts';

export const TABLE = 'audit_activities';

/** Columns as the API returns them; times as epoch ms so JS formats them exactly. */
const SELECT_EVENT = `toString(id) AS event_id, toUnixTimestamp64Milli(timestamp) AS ts_ms,
  toUnixTimestamp64Milli(received_at) AS received_ms, activity_type, toString(severity) AS severity, action,
  description, toString(outcome) AS outcome, user_id, tenant_id, resource_type, resource_id, ip_address,
  user_agent, request_id, details`;

interface EventRecord {
  event_id: string;
  ts_ms: string | number;
  received_ms: string | number;
  activity_type: string;
  severity: string;
  action: string;
  description: string;
  outcome: string;
  user_id: string;
  tenant_id: string;
  resource_type: string;
  resource_id: string;
  ip_address: string;
  user_agent: string;
  request_id: string;
  details: string;
}

export function toAuditEvent(r: EventRecord): AuditEvent {
  let details: Record<string, unknown> = {};
  try {
    details = JSON.parse(r.details || '{}') as Record<string, unknown>;
  } catch {
    details = { _unparseable: r.details };
  }
  return {
    id: r.event_id,
    timestamp: new Date(Number(r.ts_ms)).toISOString(),
    received_at: new Date(Number(r.received_ms)).toISOString(),
    activity_type: r.activity_type,
    severity: r.severity as AuditEvent['severity'],
    action: r.action,
    description: r.description,
    outcome: r.outcome as AuditEvent['outcome'],
    user_id: r.user_id,
    tenant_id: r.tenant_id,
    resource_type: r.resource_type,
    resource_id: r.resource_id,
    ip_address: r.ip_address,
    user_agent: r.user_agent,
    request_id: r.request_id,
    details,
  };
}

/** Which (tenant, id) pairs are already stored. The tenant is the sort-key prefix; ids use the bloom filter. */
export async function existingKeys(store: Store, rows: readonly EventRow[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const tenants = [...new Set(rows.map((r) => r.tenant_id))];
  const ids = [...new Set(rows.map((r) => r.id))];
  const found = await store.query<{ tenant_id: string; event_id: string }>(
    `SELECT tenant_id, toString(id) AS event_id FROM ${store.table(TABLE)}
     WHERE tenant_id IN {tenants:Array(String)} AND id IN {ids:Array(UUID)}`,
    { tenants, ids },
    'dedupe',
  );
  return new Set(found.map((r) => eventKey({ tenant_id: r.tenant_id, id: r.event_id })));
}

export const eventKey = (r: Pick<EventRow, 'tenant_id' | 'id'>) => `${r.tenant_id}\u0000${r.id}`;

export async function insertEvents(store: Store, rows: readonly EventRow[]): Promise<void> {
  await store.insertCompact(TABLE, EVENT_COLUMNS, rows.map(rowValues), 'insert');
}

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

export async function listEvents(
  store: Store,
  tenant: string,
  filters: ActivityFilters,
  limit: number,
  cursor?: Cursor,
): Promise<AuditEvent[]> {
  const where = whereClause(tenant, filters, cursor);
  const rows = await store.query<EventRecord>(
    `SELECT ${SELECT_EVENT} FROM ${store.table(TABLE)} WHERE ${where.sql}
     ORDER BY timestamp DESC, id DESC LIMIT {limit:UInt32}`,
    { ...where.params, limit },
    'list',
  );
  return rows.map(toAuditEvent);
}

export async function getEvent(store: Store, tenant: string, id: string): Promise<AuditEvent | undefined> {
  const rows = await store.query<EventRecord>(
    `SELECT ${SELECT_EVENT} FROM ${store.table(TABLE)} WHERE tenant_id = {tenant:String} AND id = {id:UUID} LIMIT 1`,
    { tenant, id },
    'get',
  );
  return rows[0] ? toAuditEvent(rows[0]) : undefined;
}

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
  let sql = `SELECT ${SELECT_EVENT} FROM ${store.table(TABLE)} WHERE ${where.sql} ORDER BY timestamp DESC, id DESC`;
  if (opts.limit !== undefined) {
    sql += ' LIMIT {limit:UInt64}';
    params.limit = opts.limit;
  }
  let rest = '';
  for await (const chunk of store.stream(sql, params, 'JSONEachRow', opts.signal)) {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    const batch: AuditEvent[] = [];
    for (const line of lines) if (line) batch.push(toAuditEvent(JSON.parse(line) as EventRecord));
    if (batch.length > 0) yield batch;
  }
  if (rest) yield [toAuditEvent(JSON.parse(rest) as EventRecord)];
}
