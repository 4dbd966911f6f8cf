// SQL access to the archive catalog (audit_archives), the deletion key staging table
// (audit_archive_keys), and the row shape archives carry. Every value is bound.
import { toChTime } from '../event/model.ts';
import { ARCHIVE_KEYS_TABLE as KEYS_TABLE } from '../store/expiry.ts';
import type { Store } from '../store/client.ts';
import type { ArchiveManifestBody } from './format.ts';
import type { ArchiveRow } from './reader.ts';

export const ARCHIVES_TABLE = 'audit_archives';

export interface ArchiveRecord {
  seq: number;
  partition: string;
  severity: string;
  file: string;
  manifest: string;
  file_sha256: string;
  file_bytes: number;
  manifest_sha256: string;
  prev_manifest_sha256: string;
  row_count: number;
  first_timestamp: string;
  last_timestamp: string;
  cutoff: string;
  schema_version: number;
  key_id: string;
  created_at: string;
  state: 'archived' | 'deleted';
  deleted_rows: number;
  deleted_at: string | null;
}

const CATALOG_COLUMNS = [
  'seq', 'partition', 'severity', 'file', 'manifest', 'file_sha256', 'file_bytes', 'manifest_sha256',
  'prev_manifest_sha256', 'row_count', 'first_timestamp', 'last_timestamp', 'cutoff', 'schema_version',
  'key_id', 'created_at', 'state', 'deleted_rows', 'deleted_at', 'version',
] as const;

// Times leave ClickHouse as epoch milliseconds and become ISO strings here (exact, zone-free).
const ms = (col: string) => `toUnixTimestamp64Milli(${col}) AS ${col}_ms`;
const SELECT_RECORD = `seq, partition, toString(severity) AS severity, file, manifest, file_sha256, file_bytes,
  manifest_sha256, prev_manifest_sha256, row_count, ${ms('first_timestamp')}, ${ms('last_timestamp')}, ${ms('cutoff')},
  schema_version, key_id, ${ms('created_at')}, toString(state) AS state, deleted_rows,
  if(isNull(deleted_at), NULL, toUnixTimestamp64Milli(assumeNotNull(deleted_at))) AS deleted_at_ms`;

const isoOf = (v: unknown) => new Date(Number(v)).toISOString();

function normalize(r: Record<string, unknown>): ArchiveRecord {
  return {
    seq: Number(r.seq),
    partition: String(r.partition),
    severity: String(r.severity),
    file: String(r.file),
    manifest: String(r.manifest),
    file_sha256: String(r.file_sha256),
    file_bytes: Number(r.file_bytes),
    manifest_sha256: String(r.manifest_sha256),
    prev_manifest_sha256: String(r.prev_manifest_sha256),
    row_count: Number(r.row_count),
    first_timestamp: isoOf(r.first_timestamp_ms),
    last_timestamp: isoOf(r.last_timestamp_ms),
    cutoff: isoOf(r.cutoff_ms),
    schema_version: Number(r.schema_version),
    key_id: String(r.key_id),
    created_at: isoOf(r.created_at_ms),
    state: r.state as ArchiveRecord['state'],
    deleted_rows: Number(r.deleted_rows),
    deleted_at: r.deleted_at_ms === null || r.deleted_at_ms === undefined ? null : isoOf(r.deleted_at_ms),
  };
}

// A newer version of a seq's row replaces the older (ReplacingMergeTree); strictly increasing
// within this process, and ms-based so a later process continues above it.
let lastVersion = 0;
const nextVersion = () => (lastVersion = Math.max(Date.now() * 1000, lastVersion + 1));

function catalogRow(r: ArchiveRecord): unknown[] {
  return [
    r.seq, r.partition, r.severity, r.file, r.manifest, r.file_sha256, r.file_bytes, r.manifest_sha256,
    r.prev_manifest_sha256, r.row_count, toChTime(Date.parse(r.first_timestamp)), toChTime(Date.parse(r.last_timestamp)),
    toChTime(Date.parse(r.cutoff)), r.schema_version, r.key_id, toChTime(Date.parse(r.created_at)), r.state,
    r.deleted_rows, r.deleted_at === null ? null : toChTime(Date.parse(r.deleted_at)), nextVersion(),
  ];
}

export function recordFromManifest(body: ArchiveManifestBody, manifestRel: string, manifestSha256: string): ArchiveRecord {
  return {
    seq: body.seq,
    partition: body.partition,
    severity: body.severity,
    file: body.file,
    manifest: manifestRel,
    file_sha256: body.file_sha256,
    file_bytes: body.file_bytes,
    manifest_sha256: manifestSha256,
    prev_manifest_sha256: body.prev_manifest_sha256,
    row_count: body.row_count,
    first_timestamp: body.first_timestamp,
    last_timestamp: body.last_timestamp,
    cutoff: body.cutoff,
    schema_version: body.schema_version,
    key_id: body.key_id,
    created_at: body.created_at,
    state: 'archived',
    deleted_rows: 0,
    deleted_at: null,
  };
}

/** The commit point of an archive: from here on its rows may be deleted. */
export async function recordArchive(store: Store, record: ArchiveRecord): Promise<void> {
  await store.insertCompact(ARCHIVES_TABLE, CATALOG_COLUMNS, [catalogRow(record)], 'archive_catalog');
}

export async function markDeleted(store: Store, record: ArchiveRecord, deletedRows: number, at: number): Promise<ArchiveRecord> {
  const next: ArchiveRecord = { ...record, state: 'deleted', deleted_rows: deletedRows, deleted_at: new Date(at).toISOString() };
  await store.insertCompact(ARCHIVES_TABLE, CATALOG_COLUMNS, [catalogRow(next)], 'archive_catalog');
  return next;
}

export async function lastArchive(store: Store): Promise<ArchiveRecord | undefined> {
  const rows = await store.query(`SELECT ${SELECT_RECORD} FROM ${store.table(ARCHIVES_TABLE)} FINAL ORDER BY seq DESC LIMIT 1`, {}, 'archive_catalog');
  return rows[0] ? normalize(rows[0]) : undefined;
}

/** Committed archives whose rows have not been deleted yet (a run stopped in between). */
export async function pendingArchives(store: Store): Promise<ArchiveRecord[]> {
  const rows = await store.query(
    `SELECT ${SELECT_RECORD} FROM ${store.table(ARCHIVES_TABLE)} FINAL WHERE state = 'archived' ORDER BY seq`,
    {},
    'archive_catalog',
  );
  return rows.map(normalize);
}

export async function listArchives(store: Store, opts: { limit: number; afterSeq?: number | undefined }): Promise<ArchiveRecord[]> {
  const rows = await store.query(
    `SELECT ${SELECT_RECORD} FROM ${store.table(ARCHIVES_TABLE)} FINAL
     WHERE seq > {after:UInt64} ORDER BY seq LIMIT {limit:UInt32}`,
    { after: opts.afterSeq ?? 0, limit: opts.limit },
    'archive_catalog',
  );
  return rows.map(normalize);
}

/** Buffers the keys of an archive's rows into audit_archive_keys, in bounded batches. */
export class KeyLoader {
  private batch: unknown[][] = [];
  loaded = 0;
  constructor(private readonly store: Store, private readonly seq: number, private readonly batchSize = 50_000) {}

  async add(row: ArchiveRow): Promise<void> {
    this.batch.push([this.seq, row.tenant_id, row.id, row.received_at]);
    if (this.batch.length >= this.batchSize) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const rows = this.batch;
    this.batch = [];
    await this.store.insertCompact(KEYS_TABLE, ['seq', 'tenant_id', 'id', 'received_at'], rows, 'archive_keys');
    this.loaded += rows.length;
  }
}

export async function clearKeys(store: Store): Promise<void> {
  await store.alter(`TRUNCATE TABLE ${store.table(KEYS_TABLE)}`, {}, 'archive_keys');
}
