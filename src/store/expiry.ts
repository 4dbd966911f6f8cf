// The statements of expiry on audit_activities: which rows have outlived their severity's
// retention, the query that exports them, and deleting exactly the rows of committed archives
// (by the keys read back from the archive files, held in audit_archive_keys). Every value is
// bound; partition ids are checked against MONTH_PARTITION_RE where ClickHouse syntax wants a
// literal (IN PARTITION ID).
import type { Severity } from '../event/model.ts';
import { severities } from '../event/model.ts';
import { MONTH_PARTITION_RE } from '../event/patterns.ts';
import { ACTIVITIES_TABLE } from './activity-rows.ts';
import type { QueryParams, Store } from './client.ts';

/** The keys (seq, tenant_id, id, received_at) of the rows each archive took, read back from its file. */
export const ARCHIVE_KEYS_TABLE = 'audit_archive_keys';

/** A stored column of audit_activities, as system.columns names it. */
export interface StoredColumn {
  name: string;
  type: string;
}

/** Backquotes an identifier read from system.columns (never from input). */
export const quoteIdent = (name: string) => `\`${name.replaceAll('\\', '\\\\').replaceAll('`', '\\`')}\``;

/** `(severity = LOW AND timestamp < cutoff_LOW) OR ...`, bound: the rows expired at these cutoffs. */
export function expiredCondition(cutoffs: Record<Severity, number>): { sql: string; params: QueryParams } {
  const params: QueryParams = {};
  const parts = severities.map((s, i) => {
    params[`sev${i}`] = s;
    params[`cut${i}`] = cutoffs[s];
    return `(severity = {sev${i}:String} AND timestamp < fromUnixTimestamp64Milli({cut${i}:Int64}))`;
  });
  return { sql: parts.join(' OR '), params };
}

export interface ExpiredGroup {
  partition: string;
  severity: Severity;
  rows: number;
  firstMs: number;
  lastMs: number;
}

/** Expired rows per month partition and severity, oldest partition first. */
export async function expiredGroups(store: Store, cutoffs: Record<Severity, number>): Promise<ExpiredGroup[]> {
  const where = expiredCondition(cutoffs);
  const rows = await store.query<Record<string, string | number>>(
    `SELECT _partition_id AS partition, toString(severity) AS severity, count() AS n,
            toUnixTimestamp64Milli(min(timestamp)) AS first_ms, toUnixTimestamp64Milli(max(timestamp)) AS last_ms
     FROM ${store.table(ACTIVITIES_TABLE)} WHERE ${where.sql}
     GROUP BY partition, severity ORDER BY partition, severity`,
    where.params,
    'retention_plan',
  );
  return rows.map((r) => ({
    partition: String(r.partition),
    severity: r.severity as Severity,
    rows: Number(r.n),
    firstMs: Number(r.first_ms),
    lastMs: Number(r.last_ms),
  }));
}

function checkPartition(partition: string): string {
  if (!MONTH_PARTITION_RE.test(partition)) throw new Error(`not a month partition id: ${JSON.stringify(partition)}`);
  return partition;
}

/**
 * The rows one archive takes: one partition, one severity, timestamp < cutoff. In sort-key order
 * (tenant_id, timestamp, id), which ClickHouse reads in order instead of sorting a whole month.
 */
export function exportQuery(store: Store, columns: StoredColumn[], partition: string, severity: Severity, cutoffMs: number) {
  return {
    sql: `SELECT ${columns.map((c) => quoteIdent(c.name)).join(', ')} FROM ${store.table(ACTIVITIES_TABLE)}
          WHERE _partition_id = {p:String} AND severity = {s:String} AND timestamp < fromUnixTimestamp64Milli({cutoff:Int64})
          ORDER BY tenant_id, timestamp, id`,
    params: { p: checkPartition(partition), s: severity, cutoff: cutoffMs },
  };
}

const KEYED = (store: Store) =>
  `(tenant_id, id, received_at) IN (SELECT tenant_id, id, received_at FROM ${store.table(ARCHIVE_KEYS_TABLE)} WHERE seq IN {seqs:Array(UInt64)})`;

/** The bound condition deleteArchivedRows deletes by (integrity records these rows as retention cuts first). */
export function archivedRowsCondition(store: Store, partitions: string[], seqs: number[]): { sql: string; params: QueryParams } {
  return { sql: `_partition_id IN {parts:Array(String)} AND ${KEYED(store)}`, params: { seqs, parts: partitions.map(checkPartition) } };
}

/** Live rows that belong to each archive (by the keys read back from its file). */
export async function countArchivedRows(store: Store, partitions: string[], seqs: number[]): Promise<Map<number, number>> {
  // Hash join with the keys on the right: memory follows the archives' size, not the table's.
  const rows = await store.query<{ seq: string | number; n: string | number }>(
    `SELECT k.seq AS seq, count() AS n
     FROM ${store.table(ACTIVITIES_TABLE)} AS a
     INNER JOIN (SELECT seq, tenant_id, id, received_at FROM ${store.table(ARCHIVE_KEYS_TABLE)} WHERE seq IN {seqs:Array(UInt64)}) AS k
       ON a.tenant_id = k.tenant_id AND a.id = k.id AND a.received_at = k.received_at
     WHERE a._partition_id IN {parts:Array(String)}
     GROUP BY k.seq`,
    { seqs, parts: partitions.map(checkPartition) },
    'retention_count',
  );
  return new Map(rows.map((r) => [Number(r.seq), Number(r.n)]));
}

/**
 * Deletes exactly the rows whose keys were read back from the archives' files.
 *
 * A mutation (ALTER TABLE ... DELETE), not a lightweight DELETE: it rewrites the affected parts
 * without the rows, so when it returns the bytes are gone from the active parts, where a
 * lightweight delete only masks them until a merge that an old month may never see again.
 * A mutation's cost is per part of the whole table (every part gets the new mutation version,
 * unaffected ones by hard links), whatever it deletes, so the job issues one per run for all its
 * archives, not one per archive or partition. mutations_sync = 2 waits until it is done
 * everywhere (all replicas, in server mode); the job then checks that no archived row is left.
 */
export async function deleteArchivedRows(store: Store, partitions: string[], seqs: number[]): Promise<void> {
  await store.alter(
    `ALTER TABLE ${store.table(ACTIVITIES_TABLE)} DELETE
     WHERE _partition_id IN {parts:Array(String)} AND ${KEYED(store)} SETTINGS mutations_sync = 2`,
    { seqs, parts: partitions.map(checkPartition) },
    'retention_delete',
  );
}

/** Rows of the archives still live (0 after a successful delete). */
export async function remainingArchivedRows(store: Store, partitions: string[], seqs: number[]): Promise<number> {
  const rows = await store.query<{ n: string | number }>(
    `SELECT count() AS n FROM ${store.table(ACTIVITIES_TABLE)} WHERE _partition_id IN {parts:Array(String)} AND ${KEYED(store)}`,
    { parts: partitions.map(checkPartition), seqs },
    'retention_count',
  );
  return Number(rows[0]?.n ?? 0);
}

/** Archiving off: make ClickHouse apply the table's TTL in this partition now (a mutation). */
export async function materializeTtl(store: Store, partition: string): Promise<void> {
  await store.alter(
    `ALTER TABLE ${store.table(ACTIVITIES_TABLE)} MATERIALIZE TTL IN PARTITION ID '${checkPartition(partition)}' SETTINGS mutations_sync = 2`,
    {},
    'retention_ttl',
  );
}

/** The delete TTL currently on audit_activities, if any (from its CREATE statement). */
export async function tableHasTtl(store: Store): Promise<boolean> {
  const rows = await store.query<{ q: string }>(
    `SELECT create_table_query AS q FROM system.tables WHERE database = {db:String} AND name = {t:String}`,
    { db: store.database, t: ACTIVITIES_TABLE },
  );
  return /\bTTL\b/.test(rows[0]?.q ?? '');
}

/**
 * Every stored column of audit_activities (ordinary, DEFAULT and MATERIALIZED; not ALIAS or
 * EPHEMERAL, which are not stored), in table order: what an archive carries. Read from the table
 * itself, so columns added later (e.g. hash chains) are archived without a code change.
 */
export async function storedColumns(store: Store): Promise<StoredColumn[]> {
  return store.query<StoredColumn>(
    `SELECT name, type FROM system.columns
     WHERE database = {db:String} AND table = {t:String} AND default_kind IN ('', 'DEFAULT', 'MATERIALIZED')
     ORDER BY position`,
    { db: store.database, t: ACTIVITIES_TABLE },
    'archive_catalog',
  );
}
