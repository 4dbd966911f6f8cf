// "Exactly one replica does this": a lease per (name, slot), decided by ClickHouse's insert
// deduplication. Every contender inserts a row with the same insert_deduplication_token; only the
// first is kept, and everyone reads back who that was. A slot is, e.g., the scheduled time of a
// cron run, so all replicas firing for the same run contend for the same slot.
import crypto from 'node:crypto';
import os from 'node:os';
import type { Store } from '../store/client.ts';

export const LEASE_TABLE = 'audit_leases';

/** This process's identity as a lease holder (host, pid and a random suffix). */
export const processHolderId = `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;

export async function acquireLease(store: Store, name: string, slot: string, holder = processHolderId): Promise<{ acquired: boolean; holder: string }> {
  const token = `lease:${name}:${slot}`;
  // insert_quorum/select_sequential_consistency matter on a replicated cluster: the read-back must
  // see the winning insert even when it lands on another replica. They are no-ops on one node.
  const replicated = store.kind === 'server';
  await store.command(
    `INSERT INTO ${store.table(LEASE_TABLE)} (name, slot, holder)
     SETTINGS insert_deduplication_token = {token:String}${replicated ? ", insert_quorum = 'auto'" : ''}
     VALUES ({name:String}, {slot:String}, {holder:String})`,
    { token, name, slot, holder },
    'lease',
  );
  const rows = await store.query<{ holder: string }>(
    `SELECT holder FROM ${store.table(LEASE_TABLE)} WHERE name = {name:String} AND slot = {slot:String}
     ORDER BY acquired_at, holder LIMIT 1${replicated ? ' SETTINGS select_sequential_consistency = 1' : ''}`,
    { name, slot },
    'lease',
  );
  const winner = rows[0]?.holder ?? '';
  return { acquired: winner === holder, holder: winner };
}
