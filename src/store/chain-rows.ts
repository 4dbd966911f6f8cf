// audit_activities as the hash chains read it: the links a retention run is about to delete, the
// rows of the verification walk (in its fixed column layout, parsed here), and the point lookups
// that classify a break. The chains' own tables (integrity_cuts, integrity_checkpoints,
// integrity_streams) are integrity/'s; its walk unions them with the select given here.
import type { EventRow } from '../event/model.ts';
import { ACTIVITIES_TABLE as TABLE } from './activity-rows.ts';
import type { QueryParams, Store } from './client.ts';

/** One link of a chain, as a retention cut records it. */
export interface ChainLink {
  tenant_id: string;
  stream: string;
  seq: number;
  prev_hash: string;
  hash: string;
}

/** The chained rows matching `where` (bound), as links in (tenant, stream, seq) order, in batches. */
export function chainLinks(store: Store, where: string, params: QueryParams): AsyncGenerator<ChainLink[]> {
  return store.rows<ChainLink>(
    `SELECT tenant_id, toString(stream) AS stream, seq, prev_hash, hash FROM ${store.table(TABLE)}
     WHERE (${where}) AND stream != '' ORDER BY tenant_id, stream, seq
     SETTINGS output_format_json_quote_64bit_integers = 0`,
    params, 'retention',
  );
}

/** Deletes the rows matching `where` (bound): a mutation, waited for. */
export async function deleteActivities(store: Store, where: string, params: QueryParams): Promise<void> {
  await store.alter(`ALTER TABLE ${store.table(TABLE)} DELETE WHERE ${where} SETTINGS mutations_sync = 2`, params, 'retention');
}

/**
 * The rows of one chain next to a broken link by hash: the one whose hash is `prev` (the link it
 * points back to) and the ones whose prev_hash is `hash` (links pointing to it).
 */
export async function linkNeighbours(
  store: Store, link: { tenant: string; stream: string; prev: string; hash: string },
): Promise<Array<{ seq: number; rel: 'prev' | 'next' }>> {
  const rows = await store.query<{ seq: number; rel: 'prev' | 'next' }>(
    `SELECT seq, if(hash = {prev:String}, 'prev', 'next') AS rel FROM ${store.table(TABLE)}
     WHERE tenant_id = {t:String} AND stream = {s:String} AND (hash = {prev:String} OR prev_hash = {hash:String})
     LIMIT 10 SETTINGS output_format_json_quote_64bit_integers = 0`,
    { t: link.tenant, s: link.stream, prev: link.prev, hash: link.hash }, 'verify',
  );
  return rows.map((r) => ({ seq: Number(r.seq), rel: r.rel }));
}

/** Which of `ids` are stored events of `activityType`, as `tenant NUL id`. */
export async function storedEventsOfType(store: Store, activityType: string, ids: string[]): Promise<Set<string>> {
  const rows = await store.query<{ t: string; event_id: string }>(
    `SELECT tenant_id AS t, toString(id) AS event_id FROM ${store.table(TABLE)}
     WHERE activity_type = {type:String} AND id IN {ids:Array(UUID)}`,
    { type: activityType, ids }, 'verify',
  );
  return new Set(rows.map((r) => `${r.t}\u0000${r.event_id}`));
}

/** Per chain (tenant, stream), the seqs of links stored since {since:Int64} (ms): a select to union with. */
export function linksStoredSinceSelect(store: Store, tenantCond: string): string {
  return `SELECT tenant_id, toString(stream) AS stream, seq AS s FROM ${store.table(TABLE)}
    WHERE received_at >= fromUnixTimestamp64Milli({since:Int64}) AND stream != '' ${tenantCond}`;
}

// The walk's record layout: one TabSeparated line per record (event, retention cut or checkpoint;
// TabSeparated because ClickHouse writes it ~2.5x faster than JSON and splitting on tabs is
// cheaper than JSON.parse). The cut and checkpoint selects of integrity/verify-scope.ts fill the
// same positions.
export const K = 0, TENANT = 1, STREAM = 2, SEQ = 3, PREV = 4, HASH = 5, MAC = 6, ERASURE = 7, ID = 8, TS = 9, RECV = 10,
  ATYPE = 11, SEV = 12, ACTION = 13, OUTCOME = 14, RTYPE = 15, RID = 16, USER = 17, IP = 18, UA = 19, REQ = 20, DESC = 21,
  DETAILS = 22, LAST = 23;
export type Rec = [number, string, string, number, string, string, string, string, string, number, number, string, string, string,
  string, string, string, string, string, string, string, string, string, number];

/** The event rows of the walk in its layout, `kind` in position K, for a UNION ALL. */
export function walkRowsSelect(store: Store, kind: number, where: string): string {
  return `SELECT toUInt8(${kind}) AS k, toString(tenant_id) AS t, toString(stream) AS s, seq AS q, prev_hash, hash, pii_mac, erasure,
        toString(id) AS id, toUnixTimestamp64Milli(timestamp) AS ts, toUnixTimestamp64Milli(received_at) AS recv,
        toString(activity_type), toString(severity), toString(action), toString(outcome), toString(resource_type),
        resource_id, user_id, ip_address, toString(user_agent), request_id, description, details, toUInt64(0) AS last
      FROM ${store.table(TABLE)} WHERE ${where}`;
}

const UNESCAPE: Record<string, string> = { b: '\b', f: '\f', r: '\r', n: '\n', t: '\t', '0': '\0', a: '\x07', v: '\v', e: '\x1b' };
/** One TabSeparated line of the walk: fields split on tabs, ClickHouse's backslash escapes undone. */
export function parseRecord(line: string): Rec {
  const f = line.split('\t') as unknown[];
  for (let i = 0; i < f.length; i++) {
    const v = f[i] as string;
    if (v.includes('\\')) f[i] = v.replace(/\\(.)/g, (_, c: string) => UNESCAPE[c] ?? c);
  }
  f[K] = Number(f[K]);
  f[SEQ] = Number(f[SEQ]);
  f[TS] = Number(f[TS]);
  f[RECV] = Number(f[RECV]);
  f[LAST] = Number(f[LAST]);
  return f as Rec;
}

/** The event of a walk record. */
export function toEvent(r: Rec): EventRow {
  return {
    id: r[ID], tenant_id: r[TENANT], timestamp: r[TS], received_at: r[RECV], activity_type: r[ATYPE], severity: r[SEV],
    action: r[ACTION], outcome: r[OUTCOME], resource_type: r[RTYPE], resource_id: r[RID], user_id: r[USER],
    ip_address: r[IP], user_agent: r[UA], request_id: r[REQ], description: r[DESC], details: r[DETAILS],
  };
}
