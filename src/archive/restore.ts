// `audithouse archive restore PATH`: re-imports archived events for an investigation.
//
// Where they go: the table audit_restored (migration 0022), never audit_activities. Restored
// rows are expired by definition; in the live table the next retention run would archive them a
// second time and delete them again, the query API would mix them with live data, and a TTL (with
// archiving off) would drop them at once. audit_restored has no TTL and nothing but this command
// writes it; operators TRUNCATE it when the investigation is over. Every row carries the archive
// it came from (archive_seq, archive_file, archive_sha256).
//
// Each archive is verified (signature, chain position in its name, file SHA-256 and rows) before
// a single row of it is imported; a damaged one is refused and named. Restoring the same archive
// twice is a no-op; a restore interrupted half-way is redone from scratch for that archive.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger.ts';
import type { Store } from '../store/client.ts';
import { RESTORED_TABLE } from '../store/erasure-rows.ts';
import { quoteIdent } from '../store/expiry.ts';
import { ArchiveFileError, readManifest, scanLayout, type LoadedManifest } from './chain.ts';
import { HEAD_FILE, KEYS_DIR, parseArchiveName, toChText, type ArchiveColumn } from './format.ts';
import { loadPublicKeys, type PublicKeySet } from './keys.ts';
import { manifestPathFor, scanArchiveFile } from './reader.ts';

const BATCH_ROWS = 10_000;
const COLUMN_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Types as ClickHouse prints them, e.g. DateTime64(3, 'UTC'), Enum8('LOW' = 1, ...), Nullable(String).
const COLUMN_TYPE_RE = /^[A-Za-z0-9_(), '=.-]+$/;

export interface RestoreReport {
  table: string;
  archives: number;
  rows: number;
  skipped: Array<{ manifest: string; reason: string }>;
  failed: Array<{ file: string; problem: string }>;
}

/** The archive root: `dir` or the nearest parent holding keys/ or HEAD.json. */
export function findArchiveRoot(start: string): string {
  let dir = path.resolve(start);
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, KEYS_DIR)) || fs.existsSync(path.join(dir, HEAD_FILE))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return path.resolve(start);
}

/** Manifests (relative to root) selected by PATH: the whole root, a partition directory, or one file. */
export function selectManifests(target: string): { root: string; manifests: string[] } {
  const abs = path.resolve(target);
  if (!fs.existsSync(abs)) throw new Error(`${target} does not exist`);
  if (fs.statSync(abs).isFile()) {
    const name = parseArchiveName(path.basename(abs));
    if (!name) throw new Error(`${target} is neither an archive data file nor a manifest`);
    const manifest = name.kind === 'manifest' ? abs : manifestPathFor(abs)!;
    const root = findArchiveRoot(path.dirname(abs));
    return { root, manifests: [path.relative(root, manifest).split(path.sep).join('/')] };
  }
  const root = findArchiveRoot(abs);
  const prefix = path.relative(root, abs).split(path.sep).join('/');
  const manifests = [...scanLayout(root).manifests.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, rel]) => rel)
    .filter((rel) => prefix === '' || rel.startsWith(`${prefix}/`));
  return { root, manifests };
}

async function tableColumns(store: Store): Promise<Set<string>> {
  const rows = await store.query<{ name: string }>(
    'SELECT name FROM system.columns WHERE database = {db:String} AND table = {t:String}',
    { db: store.database, t: RESTORED_TABLE },
  );
  return new Set(rows.map((r) => r.name));
}

/** Columns an archive carries that audit_restored lacks (a newer schema) are added first. */
async function ensureColumns(store: Store, have: Set<string>, columns: ArchiveColumn[]): Promise<void> {
  for (const c of columns) {
    if (have.has(c.name)) continue;
    // The manifest is signed and verified by now; still, only plain identifiers and types reach DDL.
    if (!COLUMN_NAME_RE.test(c.name) || !COLUMN_TYPE_RE.test(c.type)) throw new Error(`archive column ${JSON.stringify(c)} is not restorable`);
    await store.alter(`ALTER TABLE ${store.table(RESTORED_TABLE)} ADD COLUMN IF NOT EXISTS ${quoteIdent(c.name)} ${c.type}`, {}, 'restore');
    have.add(c.name);
  }
}

async function restoredCounts(store: Store): Promise<Map<string, number>> {
  const rows = await store.query<{ sha: string; n: string | number }>(
    `SELECT archive_sha256 AS sha, count() AS n FROM ${store.table(RESTORED_TABLE)} GROUP BY archive_sha256`,
    {},
    'restore',
  );
  return new Map(rows.map((r) => [r.sha, Number(r.n)]));
}

export async function restoreArchives(
  store: Store,
  target: string,
  opts: { publicKeys?: PublicKeySet; log?: Logger } = {},
): Promise<RestoreReport> {
  const { root, manifests } = selectManifests(target);
  const keys = opts.publicKeys ?? (await loadPublicKeys([path.join(root, KEYS_DIR)]));
  const report: RestoreReport = { table: `${store.database}.${RESTORED_TABLE}`, archives: 0, rows: 0, skipped: [], failed: [] };
  const have = await tableColumns(store);
  const done = await restoredCounts(store);

  // An archive superseded by a later one (e.g. rewritten by an erasure) is restored from its
  // replacement only; its own data file may be gone.
  const replaced = new Map<number, number>();
  for (const rel of scanLayout(root).manifests.values()) {
    const m = await readManifest(root, rel, keys).catch(() => undefined);
    if (m?.body.replaces !== undefined) replaced.set(m.body.replaces, m.body.seq);
  }

  for (const rel of manifests) {
    let m: LoadedManifest;
    try {
      m = await readManifest(root, rel, keys);
      if (replaced.has(m.body.seq)) {
        report.skipped.push({ manifest: rel, reason: `superseded by archive ${replaced.get(m.body.seq)}` });
        continue;
      }
      const s = await scanArchiveFile(path.join(root, m.body.file), {
        expect: { severity: m.body.severity, partition: m.body.partition, cutoff: toChText(Date.parse(m.body.cutoff)) },
      });
      if (s.sha256 !== m.body.file_sha256 || s.rows !== m.body.row_count) {
        throw new ArchiveFileError(m.body.file, 'SHA-256 or row count does not match its manifest');
      }
    } catch (err) {
      const e = err instanceof ArchiveFileError ? { file: err.file, problem: err.problem } : { file: rel, problem: (err as Error).message };
      report.failed.push(e);
      opts.log?.warn(e, 'archive refused: it does not verify');
      continue;
    }
    const already = done.get(m.body.file_sha256) ?? 0;
    if (already === m.body.row_count) {
      report.skipped.push({ manifest: rel, reason: 'already restored' });
      continue;
    }
    if (already > 0) {
      // A restore stopped half-way: start this archive over rather than leave duplicates.
      await store.alter(
        `ALTER TABLE ${store.table(RESTORED_TABLE)} DELETE WHERE archive_sha256 = {sha:String} SETTINGS mutations_sync = 2`,
        { sha: m.body.file_sha256 },
        'restore',
      );
    }
    await ensureColumns(store, have, m.body.columns);
    const names = m.body.columns.map((c) => c.name);
    const insertColumns = [...names, 'archive_seq', 'archive_file', 'archive_sha256'];
    let batch: unknown[][] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const rows = batch;
      batch = [];
      await store.insertCompact(RESTORED_TABLE, insertColumns, rows, 'restore');
    };
    const s = await scanArchiveFile(path.join(root, m.body.file), {
      onRow: async (row) => {
        batch.push([...names.map((n) => row[n] ?? null), m.body.seq, m.body.file, m.body.file_sha256]);
        if (batch.length >= BATCH_ROWS) await flush();
      },
    });
    await flush();
    if (s.sha256 !== m.body.file_sha256) {
      // Changed between the check and the import: take the rows back out and refuse it.
      await store.alter(
        `ALTER TABLE ${store.table(RESTORED_TABLE)} DELETE WHERE archive_sha256 = {sha:String} SETTINGS mutations_sync = 2`,
        { sha: m.body.file_sha256 },
        'restore',
      );
      report.failed.push({ file: m.body.file, problem: 'changed while being restored' });
      continue;
    }
    report.archives++;
    report.rows += s.rows;
    opts.log?.info({ manifest: rel, rows: s.rows }, 'archive restored');
  }
  return report;
}
