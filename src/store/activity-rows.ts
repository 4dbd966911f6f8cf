// audit_activities' rows in and out: the table name, the insert (plain and hash-chained) and the
// parse of every row shape read back. Rows from ClickHouse are parsed here, once, at the boundary.
//
// The page, export and read-cache paths are hot (an export streams ~250k rows/s), so their row
// shapes are parsed by hand-written functions over the aliases below rather than a zod schema:
// ClickHouse already typed every column, and a schema walk per row would cost more than the
// engine's own work. Only the UInt64/Int64 columns need a coercion (JSON output quotes them).
import { EVENT_COLUMNS, toChTime, type AuditEvent, type EventRow } from '../event/model.ts';
import type { Store } from './client.ts';

/** The one name of the events table (contract: main table audit_activities). */
export const ACTIVITIES_TABLE = 'audit_activities';

/** Columns as the API returns them; times as epoch ms so JS formats them exactly. */
export const SELECT_EVENT = `toString(id) AS event_id, toUnixTimestamp64Milli(timestamp) AS ts_ms,
  toUnixTimestamp64Milli(received_at) AS received_ms, activity_type, toString(severity) AS severity, action,
  description, toString(outcome) AS outcome, user_id, tenant_id, resource_type, resource_id, ip_address,
  user_agent, request_id, details`;

/** Columns in stored form (EventRow): what the read caches keep (src/query/tail.ts). */
// Aliases differ from the column names: an alias named like a column would replace it in WHERE
// and ORDER BY (the string id would sort the page).
export const SELECT_ROW = `toString(id) AS row_id, tenant_id, toUnixTimestamp64Milli(timestamp) AS ts_ms,
  toUnixTimestamp64Milli(received_at) AS received_ms, activity_type, toString(severity) AS severity_name, action,
  toString(outcome) AS outcome_name, resource_type, user_agent, user_id, resource_id, ip_address, request_id, description, details`;

/** A row of SELECT_ROW as ClickHouse returns it (Int64 times may come quoted). */
export type RowRecord = Omit<EventRow, 'id' | 'timestamp' | 'received_at' | 'severity' | 'outcome'> & {
  row_id: string; ts_ms: string | number; received_ms: string | number; severity_name: string; outcome_name: string;
};

/** A row of SELECT_EVENT as ClickHouse returns it: the stored form under the API's aliases. */
export type EventRecord = Omit<EventRow, 'id' | 'timestamp' | 'received_at'> & {
  event_id: string; ts_ms: string | number; received_ms: string | number;
};

/** SELECT_ROW → EventRow (read caches). */
export const rowFromRecord = (r: RowRecord): EventRow => ({
  id: r.row_id, tenant_id: r.tenant_id, timestamp: Number(r.ts_ms), received_at: Number(r.received_ms),
  activity_type: r.activity_type, severity: r.severity_name, action: r.action, outcome: r.outcome_name,
  resource_type: r.resource_type, user_agent: r.user_agent, user_id: r.user_id, resource_id: r.resource_id,
  ip_address: r.ip_address, request_id: r.request_id, description: r.description, details: r.details,
});

/** SELECT_EVENT → AuditEvent (pages, export, the sinks' feed). */
export function eventFromRecord(r: EventRecord): AuditEvent {
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
    // The columns are Enum8 of exactly these values (migrations), so the engine has checked them.
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

/** An acknowledged row as the API returns it (the same conversion as a stored one). */
export function eventFromRow(r: EventRow): AuditEvent {
  return eventFromRecord({ ...r, event_id: r.id, ts_ms: r.timestamp, received_ms: r.received_at });
}

/** What a query selects and how each row it returns is parsed. */
export interface RowShape<R, T> {
  select: string;
  parse: (r: R) => T;
}
export const EVENT_SHAPE: RowShape<EventRecord, AuditEvent> = { select: SELECT_EVENT, parse: eventFromRecord };
export const ROW_SHAPE: RowShape<RowRecord, EventRow> = { select: SELECT_ROW, parse: rowFromRecord };

/** An EventRow's values in EVENT_COLUMNS order (JSONCompactEachRow). */
export function rowValues(r: EventRow): unknown[] {
  return [
    r.id, r.tenant_id, toChTime(r.timestamp), toChTime(r.received_at), r.activity_type, r.severity, r.action,
    r.outcome, r.resource_type, r.user_agent, r.user_id, r.resource_id, r.ip_address, r.request_id,
    r.description, r.details,
  ];
}

export async function insertEvents(store: Store, rows: readonly EventRow[]): Promise<void> {
  await store.insertCompact(ACTIVITIES_TABLE, EVENT_COLUMNS, rows.map(rowValues), 'insert');
}

/** A row's place in its hash chain (src/integrity/chain.ts computes it). */
export interface ChainColumns {
  stream: string;
  seq: number;
  prev_hash: string;
  hash: string;
  pii_mac: string;
}
/** The compact form stores the link only: prev_hash is the previous row's hash, pii_mac only comes with an erasure. */
const COMPACT_CHAIN_COLUMNS = ['stream', 'seq', 'hash'] as const satisfies readonly (keyof ChainColumns)[];
const FULL_CHAIN_COLUMNS = ['stream', 'seq', 'prev_hash', 'hash', 'pii_mac'] as const satisfies readonly (keyof ChainColumns)[];

/**
 * Inserts rows with their chain columns (links[i] belongs to rows[i]), in the compact
 * JSONCompactEachRow form. The values are built as the insert stream pulls them (a row at a
 * time between other work, like the encoding itself), not in one pass that would hold the event
 * loop for a 20,000-row batch.
 */
export async function insertChainedEvents(store: Store, rows: readonly EventRow[], links: readonly ChainColumns[], compact: boolean): Promise<void> {
  if (rows.length !== links.length) throw new Error(`${rows.length} rows but ${links.length} chain links`);
  const chainColumns = compact ? COMPACT_CHAIN_COLUMNS : FULL_CHAIN_COLUMNS;
  const values = {
    length: rows.length,
    *[Symbol.iterator]() {
      for (let i = 0; i < rows.length; i++) {
        const v = rowValues(rows[i]!);
        const link = links[i]!;
        for (const c of chainColumns) v.push(link[c]);
        yield v;
      }
    },
  };
  await store.insertCompact(ACTIVITIES_TABLE, [...EVENT_COLUMNS, ...chainColumns], values, 'insert');
}
