// Erasure in archives: each archive holding the subject is rewritten without them and appended to
// the signed archive chain as a new archive that `replaces` the old one (its manifest names the
// erasure); the old data file is deleted. `archive verify` then checks the replacement and no
// longer expects the superseded file; `archive restore` restores the replacement.
//
// Why rewriting and not crypto-shredding (per-subject keys destroyed on erasure):
//  - the chain hashes already survive it: personal values enter an event's hash only through
//    pii_mac, so an archived row erased exactly like a live one keeps its chain link, and the
//    rewritten archive is verified like any other (file hash, row count, signed manifest, chain);
//  - archives stay plain gzip NDJSON that any tool (and `archive restore`) reads, with no key
//    store to keep, back up, and keep in step with them for years;
//  - shredding is only as good as the deletion of the key everywhere (backups of a key store
//    included) and leaves the ciphertext of personal data in every copy; rewriting removes it;
//  - erasures are rare and archives are written once a night per month and severity, so reading
//    every archive of the directory on an erasure costs seconds to minutes, not a redesign.
import fs from 'node:fs';
import path from 'node:path';
import { listArchives, markDeleted, recordArchive, recordFromManifest } from '../archive/catalog.ts';
import { readManifest, scanLayout, type LoadedManifest } from '../archive/chain.ts';
import { KEYS_DIR } from '../archive/format.ts';
import { exportPublicKey, loadPublicKeys } from '../archive/keys.ts';
import { readArchive, type ArchiveRow } from '../archive/reader.ts';
import { writeArchive } from '../archive/writer.ts';
import type { Logger } from '../logger.ts';
import type { RetentionJob } from '../retention/job.ts';
import { acquireLock } from '../retention/lock.ts';
import { recoverArchiveDir } from '../retention/recover.ts';
import type { Store } from '../store/client.ts';
import type { PiiPolicy } from './canonical.ts';
import type { MacKeys } from './keys.ts';
import { planRowErasure, type RowErasure } from './subject.ts';

export interface ArchiveErasureDeps {
  /** AUDIT_ARCHIVE_LOCATION. */
  root: string;
  /** Owns the archive chain: its signer, and no run of it while an erasure rewrites. */
  retention: Pick<RetentionJob, 'signer' | 'exclusive'>;
  store: Store;
  log?: Logger | undefined;
}

export interface ArchiveErasureContext {
  tenant: string;
  subject: string;
  erasureId: string;
  subjectRef: string;
  mac: MacKeys;
  /** Personal-data policy per stream (archived rows keep their stream column). */
  policies: Map<string, PiiPolicy>;
  fallback: PiiPolicy;
}

export interface AffectedArchive {
  manifest: LoadedManifest;
  rows: number;
}

/** Runs `work` holding the archive directory's lock (the one retention runs take, across processes). */
export async function withArchiveLock<T>(deps: ArchiveErasureDeps, work: () => Promise<T>): Promise<T> {
  const lock = acquireLock(deps.root);
  try {
    return await work();
  } finally {
    lock.release();
  }
}

const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

/** The erasure of one archived row (values as ClickHouse wrote them: strings). */
function planArchived(ctx: ArchiveErasureContext, row: ArchiveRow): RowErasure | undefined {
  if (row.tenant_id !== ctx.tenant) return undefined;
  const policy = ctx.policies.get(str(row.stream)) ?? ctx.fallback;
  return planRowErasure(ctx.mac, policy, {
    id: str(row.id), tenant_id: ctx.tenant, user_id: str(row.user_id), ip_address: str(row.ip_address),
    user_agent: str(row.user_agent), resource_type: str(row.resource_type), resource_id: str(row.resource_id), details: str(row.details),
    pii_mac: str(row.pii_mac),
  }, ctx.subject, ctx.erasureId);
}

/** The archives whose data files are current (not superseded by a later archive), in chain order. */
async function currentArchives(root: string): Promise<{ current: LoadedManifest[]; superseded: LoadedManifest[] }> {
  const layout = scanLayout(root);
  if (layout.manifests.size === 0) return { current: [], superseded: [] };
  const keys = await loadPublicKeys([path.join(root, KEYS_DIR)]);
  const loaded: LoadedManifest[] = [];
  for (const [, rel] of [...layout.manifests].sort(([a], [b]) => a - b)) loaded.push(await readManifest(root, rel, keys));
  const replaced = new Set(loaded.flatMap((m) => (m.body.replaces !== undefined ? [m.body.replaces] : [])));
  return { current: loaded.filter((m) => !replaced.has(m.body.seq)), superseded: loaded.filter((m) => replaced.has(m.body.seq)) };
}

/** Which current archives hold the subject, and how many of their rows. Reads every archive once. */
export async function findInArchives(deps: ArchiveErasureDeps, ctx: ArchiveErasureContext): Promise<AffectedArchive[]> {
  if (!fs.existsSync(deps.root)) return [];
  const { current } = await currentArchives(deps.root);
  const affected: AffectedArchive[] = [];
  for (const m of current) {
    let rows = 0;
    for await (const row of readArchive(path.join(deps.root, m.body.file))) if (planArchived(ctx, row)) rows++;
    if (rows > 0) affected.push({ manifest: m, rows });
  }
  return affected;
}

/**
 * Rewrites each affected archive without the subject as a new archive that replaces it, records
 * it in the catalog, and deletes the old data file. Call under the archive lock, with no
 * retention run (RetentionJob.exclusive).
 */
export async function rewriteArchives(deps: ArchiveErasureDeps, ctx: ArchiveErasureContext, affected: AffectedArchive[]): Promise<void> {
  const { store, root } = deps;
  const signer = await deps.retention.signer();
  await exportPublicKey(root, signer);
  const keys = await loadPublicKeys([path.join(root, KEYS_DIR)]);
  // Same start as a retention run: the directory and the catalog agree, and we know the chain tip.
  let tip = await recoverArchiveDir({ store, log: deps.log ?? silentLog }, root, signer, keys, {
    discarded_temp_files: 0, discarded_data_files: 0, adopted_archives: 0, quarantined_archives: 0, resumed_deletions: 0,
  });
  for (const { manifest } of affected) {
    const old = manifest.body;
    const file = path.join(root, old.file);
    const lines = async function* () {
      let chunk = '';
      let n = 0;
      for await (const row of readArchive(file)) {
        const plan = planArchived(ctx, row);
        if (plan) {
          Object.assign(row, plan.after);
          if ('erasure' in row) row.erasure = plan.mark; // archives written before chains have no such column
          if (plan.pii_mac && 'pii_mac' in row) row.pii_mac = plan.pii_mac;
        }
        chunk += JSON.stringify(row) + '\n';
        if (++n % 1000 === 0) {
          yield chunk;
          chunk = '';
        }
      }
      if (chunk) yield chunk;
    };
    const written = await writeArchive(
      {
        root, seq: tip.seq + 1, partition: old.partition, severity: old.severity, cutoffMs: Date.parse(old.cutoff),
        columns: old.columns, schemaVersion: old.schema_version, prevManifestSha256: tip.sha256,
        replaces: old.seq, reason: `erasure ${ctx.erasureId} (data subject ${ctx.subjectRef})`,
      },
      lines(),
      signer,
    );
    if (!written) continue; // cannot happen: an archive is never empty, and rows are never dropped here
    const record = recordFromManifest(written.body, written.manifestRel, written.manifestSha256);
    await recordArchive(store, record);
    // The replacement takes the old archive's place in the catalog: deleted if its rows were,
    // else pending (the next run deletes the rows by the replacement's keys; the old one is done).
    const previous = (await listArchives(store, { limit: 1, afterSeq: old.seq - 1 })).find((a) => a.seq === old.seq);
    if (previous?.state === 'deleted') await markDeleted(store, record, previous.deleted_rows, Date.now());
    else if (previous) await markDeleted(store, previous, 0, Date.now());
    fs.rmSync(file, { force: true });
    tip = { seq: written.body.seq, sha256: written.manifestSha256 };
    deps.log?.info({ replaced: old.seq, archive: written.body.seq, erasure_id: ctx.erasureId }, 'archive rewritten for an erasure');
  }
  // A superseded data file still on disk (an erasure stopped between its two steps) goes too.
  for (const m of (await currentArchives(root)).superseded) fs.rmSync(path.join(root, m.body.file), { force: true });
}

const silentLog = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;
