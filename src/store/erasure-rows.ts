// The statements of the right to be forgotten on stored rows (audit_activities, and audit_restored:
// archived events restored for investigation): finding the rows that may concern a data subject,
// and rewriting them in one mutation. What to write in each row is integrity/'s (erasure.ts).
//
// Why an ALTER TABLE ... UPDATE mutation and not a lightweight UPDATE: a lightweight update writes
// patch parts and leaves the old values in the original parts until a merge materializes them,
// so the personal data would stay on disk for an unbounded time. A mutation rewrites the affected
// columns of the affected parts at once (mutations_sync = 2 waits for it); the replaced parts are
// removed by ClickHouse after old_parts_lifetime (8 minutes by default).
// The new values come from a temporary Join table, not from literals: ClickHouse keeps the text of
// every mutation (system.mutations, mutation_*.txt), which must not become a copy of anybody's data.
import crypto from 'node:crypto';
import type { EventRow } from '../event/model.ts';
import { ACTIVITIES_TABLE } from './activity-rows.ts';
import type { Store } from './client.ts';

/** Where archive restore puts archived events (migration 0022); it has no chain columns. */
export const RESTORED_TABLE = 'audit_restored';
export type ErasableTable = typeof ACTIVITIES_TABLE | typeof RESTORED_TABLE;

export interface Candidate extends Pick<EventRow, 'id' | 'tenant_id' | 'user_id' | 'ip_address' | 'user_agent' | 'resource_type' | 'resource_id' | 'details'> {
  /** The chain the row belongs to ('' outside chains and in audit_restored). */
  stream: string;
  pii_mac: string;
}

/** What one row becomes: which personal columns are erased, its new details, its erasure mark. */
export interface RowChange {
  id: string;
  actor: number;
  resource: number;
  details: string;
  mark: string;
  pii: string;
}

const chained = (table: ErasableTable) => table === ACTIVITIES_TABLE;

/** Rows of `table` in `tenant` that may concern subject `x` (as actor, resource or mention), streamed. */
export async function* subjectCandidates(store: Store, table: ErasableTable, tenant: string, x: string): AsyncGenerator<Candidate> {
  // The subject as it appears inside JSON text (escaped), to find candidate mentions cheaply.
  const inJson = JSON.stringify(x).slice(1, -1);
  const sql = `SELECT toString(id) AS id, tenant_id, resource_type, resource_id, user_id, ip_address, user_agent, details,
      ${chained(table) ? 'toString(stream)' : "''"} AS stream, ${chained(table) ? 'pii_mac' : "''"} AS pii_mac
    FROM ${store.table(table)}
    WHERE tenant_id = {tenant:String} AND (user_id = {x:String} OR resource_id = {x:String} OR position(details, {xj:String}) > 0)`;
  for await (const rows of store.rows<Candidate>(sql, { tenant, x, xj: inJson }, 'erasure')) yield* rows;
}

/** Rewrites the changed rows of `table` in one mutation; erased values become `erased`. */
export async function applyRowChanges(store: Store, table: ErasableTable, tenant: string, changes: RowChange[], erased: string): Promise<void> {
  const tmpName = `erasure_${crypto.randomBytes(6).toString('hex')}`;
  const tmp = store.table(tmpName);
  const qualified = `${store.database}.${tmpName}`;
  // Join(ANY, LEFT, id): joinGet looks rows up by id inside the mutation; not persisted to disk.
  await store.command(
    `CREATE TABLE ${tmp} (id UUID, actor UInt8, resource UInt8, details String, mark String, pii String)
     ENGINE = Join(ANY, LEFT, id) SETTINGS persistent = 0`, {}, 'erasure',
  );
  try {
    await store.insertCompact(tmpName, ['id', 'actor', 'resource', 'details', 'mark', 'pii'],
      changes.map((c) => [c.id, c.actor, c.resource, c.details, c.mark, c.pii]), 'erasure');
    const get = (col: string) => `joinGet({j:String}, '${col}', id)`;
    await store.alter(
      `ALTER TABLE ${store.table(table)} UPDATE
         user_id = if(${get('actor')} = 1, {erased:String}, user_id),
         ip_address = if(${get('actor')} = 1, {erased:String}, ip_address),
         user_agent = if(${get('actor')} = 1, {erased:String}, user_agent),
         resource_id = if(${get('resource')} = 1, {erased:String}, resource_id),
         details = ${get('details')}${chained(table) ? `,
         erasure = ${get('mark')},
         pii_mac = if(pii_mac = '' AND ${get('pii')} != '', ${get('pii')}, pii_mac)` : ''}
       WHERE tenant_id = {tenant:String} AND ${get('mark')} != ''
       SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1`,
      { j: qualified, erased, tenant }, 'erasure',
    );
  } finally {
    await store.command(`DROP TABLE IF EXISTS ${tmp}`, {}, 'erasure');
  }
}
