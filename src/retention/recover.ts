// Before a run archives anything, the archive directory and the catalog (audit_archives) are
// brought into agreement, so a run stopped anywhere is completed by the next one:
//  - *.partial files were never finished: removed (their rows are still in the table);
//  - the catalog's newest archive must be on disk, byte for byte, or the run stops: deleting
//    on top of a chain we cannot see could lose data;
//  - archives complete on disk but not in the catalog (stopped between writing and recording)
//    are verified and adopted, or moved to quarantine/ if they do not verify;
//  - data files whose manifest was never written are removed (never committed);
//  - HEAD is rewritten to name the newest committed manifest.
import fs from 'node:fs';
import path from 'node:path';
import { KeyLoader, lastArchive, recordArchive, recordFromManifest, type ArchiveRecord } from '../archive/catalog.ts';
import { quarantine, readHead, readManifest, scanLayout, writeHead } from '../archive/chain.ts';
import { sha256File } from '../archive/files.ts';
import { GENESIS_HASH, HEAD_FILE, toChText } from '../archive/format.ts';
import type { ArchiveSigner, PublicKeySet } from '../archive/keys.ts';
import { scanArchiveFile } from '../archive/reader.ts';
import type { Logger } from '../logger.ts';
import type { Store } from '../store/client.ts';

/** The archive directory and the catalog disagree: deleting anything now could lose data. */
export class ArchiveIntegrityError extends Error {
  override readonly name = 'ArchiveIntegrityError';
}

/** The newest committed archive: the next one chains to it. */
export interface ChainTip {
  seq: number;
  sha256: string;
}

export interface RecoveryReport {
  discarded_temp_files: number;
  discarded_data_files: number;
  adopted_archives: number;
  quarantined_archives: number;
  resumed_deletions: number;
}

/**
 * Brings the archive directory and the catalog into agreement before anything else:
 * unfinished files go, archives written but not committed are verified and adopted (or moved
 * to quarantine/), and HEAD names the newest committed manifest. Returns the chain tip.
 */
export async function recoverArchiveDir(
  deps: { store: Store; log: Logger },
  root: string,
  signer: ArchiveSigner,
  keys: PublicKeySet,
  recovered: RecoveryReport,
): Promise<ChainTip> {
  const { store, log } = deps;
  const layout = scanLayout(root);
  for (const rel of layout.temps) {
    fs.rmSync(path.join(root, rel), { force: true });
    recovered.discarded_temp_files++;
  }
  let tip: ChainTip = { seq: 0, sha256: GENESIS_HASH };
  const last = await lastArchive(store);
  if (last) {
    const rel = layout.manifests.get(last.seq);
    if (!rel) {
      throw new ArchiveIntegrityError(
        `the catalog's newest archive ${last.manifest} (seq ${last.seq}) is not under ${root}: was AUDIT_ARCHIVE_LOCATION changed, or the archive removed? Nothing was deleted.`,
      );
    }
    const { sha256 } = await sha256File(path.join(root, rel));
    if (sha256 !== last.manifest_sha256) throw new ArchiveIntegrityError(`${rel} differs from the manifest the catalog recorded. Nothing was deleted.`);
    tip = { seq: last.seq, sha256 };
  }

  // Manifests past the catalog: a run stopped between writing an archive and recording it.
  // The rows are still in the table, so either outcome is safe; adopting saves re-exporting.
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  let broken = false;
  for (const seq of [...layout.manifests.keys()].filter((s) => s > tip.seq).sort((a, b) => a - b)) {
    const rel = layout.manifests.get(seq)!;
    if (!broken) {
      try {
        if (seq !== tip.seq + 1) throw new Error(`seq ${seq} does not follow ${tip.seq}`);
        const m = await readManifest(root, rel, keys);
        if (m.body.prev_manifest_sha256 !== tip.sha256) throw new Error('does not chain to the newest committed archive');
        const s = await scanArchiveFile(path.join(root, m.body.file), {
          expect: { severity: m.body.severity, partition: m.body.partition, cutoff: toChText(Date.parse(m.body.cutoff)) },
        });
        if (s.sha256 !== m.body.file_sha256 || s.rows !== m.body.row_count) throw new Error('its data file does not match the manifest');
        await recordArchive(store, recordFromManifest(m.body, rel, m.sha256));
        tip = { seq, sha256: m.sha256 };
        recovered.adopted_archives++;
        log.info({ manifest: rel }, 'adopted an archive an interrupted run had not recorded');
        continue;
      } catch (err) {
        broken = true;
        log.warn({ manifest: rel, reason: (err as Error).message }, 'uncommitted archive does not verify; moved to quarantine');
      }
    }
    await quarantine(root, rel, stamp);
    const data = layout.data.get(seq);
    if (data && fs.existsSync(path.join(root, data))) await quarantine(root, data, stamp);
    recovered.quarantined_archives++;
  }
  // Data files whose manifest was never written: never committed, their rows are still live.
  for (const [seq, rel] of layout.data) {
    if (seq > tip.seq && !layout.manifests.has(seq)) {
      fs.rmSync(path.join(root, rel), { force: true });
      recovered.discarded_data_files++;
    }
  }
  const head = await readHead(root, keys).catch(() => undefined);
  if (tip.seq === 0) {
    fs.rmSync(path.join(root, HEAD_FILE), { force: true });
  } else if (!head || head.seq !== tip.seq || head.manifest_sha256 !== tip.sha256) {
    const rel = [...scanLayout(root).manifests.entries()].find(([s]) => s === tip.seq)![1];
    await writeHead(root, { seq: tip.seq, manifest: rel, manifest_sha256: tip.sha256 }, signer);
  }
  return tip;
}

/** Reads committed archives back (hash checked) to stage their row keys for deletion. */
export async function loadKeysFromFiles(store: Store, root: string, archives: ArchiveRecord[]): Promise<void> {
  for (const a of archives) {
    const file = path.join(root, a.file);
    if (!fs.existsSync(file)) throw new ArchiveIntegrityError(`${a.file} (archive ${a.seq}) is missing; its rows stay in the table`);
    const loader = new KeyLoader(store, a.seq);
    let s: { sha256: string; rows: number };
    try {
      s = await scanArchiveFile(file, { onRow: (row) => loader.add(row) });
    } catch (err) {
      throw new ArchiveIntegrityError(`${a.file} (archive ${a.seq}) cannot be read back (${(err as Error).message}); its rows stay in the table`);
    }
    await loader.flush();
    if (s.sha256 !== a.file_sha256 || s.rows !== a.row_count) {
      throw new ArchiveIntegrityError(`${a.file} (archive ${a.seq}) changed since it was archived; its rows stay in the table`);
    }
  }
}
