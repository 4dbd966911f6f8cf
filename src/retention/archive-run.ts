// Retention with archiving on (see src/retention/job.ts): repair what an interrupted run left,
// then per month partition and severity stream the expired rows into a signed, chained archive,
// commit it in audit_archives, and only then delete exactly the archived rows, by key.
import path from 'node:path';
import {
  KeyLoader,
  clearKeys,
  markDeleted,
  pendingArchives,
  recordArchive,
  recordFromManifest,
  type ArchiveRecord,
} from '../archive/catalog.ts';
import { KEYS_DIR } from '../archive/format.ts';
import { exportPublicKey, loadPublicKeys, type ArchiveSigner } from '../archive/keys.ts';
import { writeArchive, type StepHook } from '../archive/writer.ts';
import type { Severity } from '../event/model.ts';
import { recordRetentionCuts } from '../integrity/cuts.ts';
import {
  countArchivedRows,
  archivedRowsCondition,
  deleteArchivedRows,
  expiredGroups,
  exportQuery,
  remainingArchivedRows,
  storedColumns,
  tableHasTtl,
} from '../store/expiry.ts';
import { schemaVersion } from '../store/migrate.ts';
import type { RetentionDeps } from './job.ts';
import { acquireLock } from './lock.ts';
import { loadKeysFromFiles, recoverArchiveDir } from './recover.ts';
import { partitionEntry, type RetentionReport } from './report.ts';

/**
 * Archived rows deleted per mutation at most. The deletion's key set is held in memory by
 * ClickHouse (a few tens of bytes a row); this keeps a first run over a large backlog bounded.
 */
const DELETE_BATCH_ROWS = 5_000_000;

/** Archives what has expired and deletes it; `loadSigner` gives the manifest signing key. */
export async function archiveAndDelete(
  deps: RetentionDeps, loadSigner: () => Promise<ArchiveSigner>, report: RetentionReport, cutoffs: Record<Severity, number>, step: StepHook,
): Promise<void> {
  const { store, config, metrics, log } = deps;
  const root = config.retention.archiveLocation;
  const lock = acquireLock(root);
  try {
    if (await tableHasTtl(store)) {
      const w = 'audit_activities carries a TTL although archiving is on: rows may be dropped unarchived; run `audithouse migrate` to reconcile';
      log.error(w);
      report.warnings.push(w);
    }
    const signer = await loadSigner();
    await exportPublicKey(root, signer);
    const keys = await loadPublicKeys([path.join(root, KEYS_DIR)]);
    await clearKeys(store);
    let tip = await recoverArchiveDir(deps, root, signer, keys, report.recovered);

    // Archived rows wait here (keys staged in audit_archive_keys) and are deleted together:
    // one mutation per run, or per DELETE_BATCH_ROWS rows to bound the key set's memory.
    const staged: ArchiveRecord[] = [];
    let stagedRows = 0;
    const flush = async () => {
      if (staged.length === 0) return;
      await deleteArchived(deps, report, staged.splice(0), step);
      stagedRows = 0;
    };

    // 1. Deletions an interrupted run left behind: their rows are archived, must not be again.
    const pending = await pendingArchives(store);
    report.recovered.resumed_deletions = pending.length;
    await loadKeysFromFiles(store, root, pending);
    staged.push(...pending);
    stagedRows += pending.reduce((n, a) => n + a.row_count, 0);
    // Flushed before exporting anything: a pending archive's rows are expired too, and the
    // export below must not find them still live and archive them a second time.
    await flush();

    // 2. What has expired since: one archive per month partition and severity.
    const groups = await expiredGroups(store, cutoffs);
    const columns = await storedColumns(store);
    const version = await schemaVersion(store);
    for (const g of groups) {
      const { partition } = g;
      const e = partitionEntry(report, partition, g.severity);
      e.expired_rows = g.rows;
      e.first_timestamp = new Date(g.firstMs).toISOString();
      e.last_timestamp = new Date(g.lastMs).toISOString();
      const seq = tip.seq + 1;
      const keyLoader = new KeyLoader(store, seq);
      const q = exportQuery(store, columns, partition, g.severity, cutoffs[g.severity]);
      const written = await writeArchive(
        { root, seq, partition, severity: g.severity, cutoffMs: cutoffs[g.severity], columns, schemaVersion: version, prevManifestSha256: tip.sha256 },
        store.stream(q.sql, q.params, 'JSONEachRow'),
        signer,
        { onRow: (row) => keyLoader.add(row), onStep: step },
      );
      await keyLoader.flush();
      if (!written) continue; // the rows went away meanwhile (nothing to archive)
      const record = recordFromManifest(written.body, written.manifestRel, written.manifestSha256);
      await recordArchive(store, record);
      await step('committed', { seq });
      tip = { seq, sha256: written.manifestSha256 };
      metrics.retentionArchived.inc({ severity: g.severity }, record.row_count);
      e.archived_rows += record.row_count;
      e.archive_seq = seq;
      report.archives.push({ seq, partition, severity: g.severity, file: record.file, manifest: record.manifest, rows: record.row_count, sha256: record.file_sha256 });
      report.totals.archives++;
      report.totals.archived_rows += record.row_count;
      staged.push(record);
      stagedRows += record.row_count;
      if (stagedRows >= DELETE_BATCH_ROWS) await flush();
    }
    await flush();
    await clearKeys(store);
  } finally {
    lock.release();
  }
}

/** Deletes the rows of committed archives (keys staged), then marks the archives deleted. */
export async function deleteArchived(deps: RetentionDeps, report: RetentionReport, archives: ArchiveRecord[], step: StepHook): Promise<void> {
  const { store, metrics } = deps;
  const seqs = archives.map((a) => a.seq);
  const partitions = [...new Set(archives.map((a) => a.partition))].sort();
  const live = await countArchivedRows(store, partitions, seqs);
  const total = [...live.values()].reduce((a, b) => a + b, 0);
  if (total > 0) {
    if (deps.integrity) {
      const cond = archivedRowsCondition(store, partitions, seqs);
      await recordRetentionCuts(store, deps.integrity.mac, cond.sql, cond.params);
    }
    await deleteArchivedRows(store, partitions, seqs);
  }
  await step('deleted', { partitions, seqs });
  const remaining = await remainingArchivedRows(store, partitions, seqs);
  if (remaining > 0) throw new Error(`${remaining} archived rows are still in audit_activities after the delete`);
  for (const a of archives) {
    const n = live.get(a.seq) ?? 0;
    await markDeleted(store, a, n, Date.now());
    metrics.retentionDeleted.inc({ severity: a.severity }, n);
    partitionEntry(report, a.partition, a.severity as Severity).deleted_rows += n;
    report.totals.deleted_rows += n;
  }
  await step('marked-deleted', { partitions, seqs });
  await clearKeys(store);
}
