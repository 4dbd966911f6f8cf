// The retention job. Who deletes (see policy.ts and README "Retention and archives"):
//  - archiving on: this job alone. Per month partition, per severity, the expired rows are
//    streamed into an archive; the file is fsynced, re-read, its hash and every row checked; the
//    signed manifest is chained; the archive is recorded in audit_archives (the commit point);
//    only then are exactly the rows read back from the file deleted, by key.
//  - archiving off: ClickHouse's TTL. The job makes it act now (MATERIALIZE TTL) in partitions
//    still holding expired rows, so no row outlives its retention by more than one run.
// A run can stop anywhere (crash, kill, error) and the next one repairs: unfinished files are
// discarded, complete but uncommitted archives are verified and adopted, committed archives whose
// rows are still live get their deletion finished, and nothing is exported twice.
import path from 'node:path';
import {
  KeyLoader,
  archiveColumns,
  clearKeys,
  markDeleted,
  pendingArchives,
  recordArchive,
  recordFromManifest,
  schemaVersion,
  type ArchiveRecord,
} from '../archive/catalog.ts';
import { KEYS_DIR } from '../archive/format.ts';
import { exportPublicKey, loadPublicKeys, loadSigner, type ArchiveSigner } from '../archive/keys.ts';
import { writeArchive, type StepHook } from '../archive/writer.ts';
import type { Config, Severity } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Store } from '../store/client.ts';
import {
  countArchivedRows,
  cutoffsAt,
  archivedRowsCondition,
  deleteArchivedRows,
  expiredCondition,
  expiredGroups,
  exportQuery,
  materializeTtl,
  remainingArchivedRows,
  tableHasTtl,
} from './expiry.ts';
import { RetentionBusyError, acquireLock } from './lock.ts';
import { TTL_CUT_HORIZON_MS, recordRetentionCuts } from '../integrity/cuts.ts';
import type { MacKeys } from '../integrity/keys.ts';
import { loadKeysFromFiles, recoverArchiveDir } from './recover.ts';
import type { PartitionReport, RetentionReport } from './report.ts';
import { storageSizeBytes } from '../store/storage-size.ts';

export { RetentionBusyError } from './lock.ts';
export { ArchiveIntegrityError } from './recover.ts';

/**
 * Archived rows deleted per mutation at most. The deletion's key set is held in memory by
 * ClickHouse (a few tens of bytes a row); this keeps a first run over a large backlog bounded.
 */
const DELETE_BATCH_ROWS = 5_000_000;

export interface RetentionRunOptions {
  dryRun?: boolean;
  /** The job's clock (epoch ms): expiry is judged against it. Production: the wall clock. */
  now?: number;
  /** Called at named points of the run; tests throw from it to stop a run as a crash would. */
  onStep?: StepHook;
}

// The report's types are inferred from the schema the endpoint is documented with.
export type { PartitionReport, RetentionReport };

export interface RetentionDeps {
  store: Store;
  config: Config;
  metrics: Metrics;
  log: Logger;
  /** Hash-chain keys: deletions are recorded as retention cuts first, so verification can tell them from tampering. */
  integrity?: { mac: MacKeys } | undefined;
  /** Makes what this instance acknowledged stored first, so a run covers every event accepted before it began. */
  beforeRun?: (() => Promise<void>) | undefined;
}



export class RetentionJob {
  private current: Promise<RetentionReport> | undefined;
  private signerPromise: Promise<ArchiveSigner> | undefined;
  private exclusiveWork: Promise<unknown> | undefined;

  constructor(private readonly deps: RetentionDeps) {}

  get running(): boolean {
    return this.current !== undefined;
  }

  /** Runs now; refuses (RetentionBusyError) while another run of this job is in progress. */
  run(opts: RetentionRunOptions = {}): Promise<RetentionReport> {
    if (this.current) return Promise.reject(new RetentionBusyError('a retention run is already in progress'));
    if (this.exclusiveWork) return Promise.reject(new RetentionBusyError('an erasure is rewriting archives; retry shortly'));
    const run = this.execute(opts).finally(() => {
      this.current = undefined;
    });
    this.current = run;
    return run;
  }

  /** Resolves when no run is in progress (for shutdown). */
  async idle(): Promise<void> {
    await this.current?.catch(() => {});
    await this.exclusiveWork?.catch(() => {});
  }

  /**
   * Runs `work` while no retention run can start in this process (an erasure rewriting archives
   * and their catalog); waits for a run in progress first. Across processes, `work` takes the
   * archive directory's lock itself.
   */
  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    while (this.current || this.exclusiveWork) {
      await this.current?.catch(() => {});
      await this.exclusiveWork?.catch(() => {});
    }
    const p = work();
    this.exclusiveWork = p;
    try {
      return await p;
    } finally {
      this.exclusiveWork = undefined;
    }
  }

  /** The manifest signing key, loaded (or generated) on first use. */
  signer(): Promise<ArchiveSigner> {
    this.signerPromise ??= loadSigner({
      dataDir: this.deps.config.dataDir,
      envKey: this.deps.config.retention.signingKey,
      log: this.deps.log,
    }).catch((err: unknown) => {
      this.signerPromise = undefined;
      throw err;
    });
    return this.signerPromise;
  }

  private async execute(opts: RetentionRunOptions): Promise<RetentionReport> {
    const { config, metrics, log, store } = this.deps;
    const now = opts.now ?? Date.now();
    const cutoffs = cutoffsAt(now, config.retention.days);
    const report: RetentionReport = {
      dry_run: opts.dryRun === true,
      archive_enabled: config.retention.archiveEnabled,
      now: new Date(now).toISOString(),
      started_at: new Date().toISOString(),
      finished_at: '',
      cutoffs: Object.fromEntries(Object.entries(cutoffs).map(([s, ms]) => [s, new Date(ms).toISOString()])) as Record<Severity, string>,
      partitions: [],
      archives: [],
      totals: { archives: 0, archived_rows: 0, deleted_rows: 0 },
      recovered: { discarded_temp_files: 0, discarded_data_files: 0, adopted_archives: 0, quarantined_archives: 0, resumed_deletions: 0 },
      warnings: [],
    };
    try {
      await this.deps.beforeRun?.();
      if (opts.dryRun) await this.plan(report, cutoffs);
      else if (config.retention.archiveEnabled) await this.archiveAndDelete(report, cutoffs, opts.onStep ?? (() => {}));
      else await this.enforceTtl(report, cutoffs, opts.onStep ?? (() => {}));
      report.finished_at = new Date().toISOString();
      if (!opts.dryRun) metrics.retentionLastSuccess.set(Date.now() / 1000);
      log.info({ dry_run: report.dry_run, totals: report.totals, recovered: report.recovered }, 'retention run finished');
      return report;
    } catch (err) {
      metrics.retentionErrors.inc();
      log.error({ err }, 'retention run failed');
      throw err;
    } finally {
      await storageSizeBytes(store).then((bytes) => metrics.storageSize.set(bytes), () => {});
    }
  }

  private entry(report: RetentionReport, partition: string, severity: Severity): PartitionReport {
    let e = report.partitions.find((p) => p.partition === partition && p.severity === severity);
    if (!e) {
      e = { partition, severity, expired_rows: 0, first_timestamp: null, last_timestamp: null, archived_rows: 0, deleted_rows: 0, archive_seq: null };
      report.partitions.push(e);
    }
    return e;
  }

  /** Dry run: what a run at this clock would archive and delete. Reads only. */
  private async plan(report: RetentionReport, cutoffs: Record<Severity, number>): Promise<void> {
    const { store, config } = this.deps;
    const pending = config.retention.archiveEnabled ? await pendingArchives(store) : [];
    for (const g of await expiredGroups(store, cutoffs)) {
      const e = this.entry(report, g.partition, g.severity);
      // Rows of committed-but-undeleted archives are deleted, not archived again.
      const alreadyArchived = pending.filter((a) => a.partition === g.partition && a.severity === g.severity).reduce((n, a) => n + a.row_count, 0);
      Object.assign(e, {
        expired_rows: g.rows,
        first_timestamp: new Date(g.firstMs).toISOString(),
        last_timestamp: new Date(g.lastMs).toISOString(),
        archived_rows: config.retention.archiveEnabled ? Math.max(0, g.rows - alreadyArchived) : 0,
        deleted_rows: g.rows,
      });
      report.totals.archived_rows += e.archived_rows;
      report.totals.deleted_rows += e.deleted_rows;
    }
    report.recovered.resumed_deletions = pending.length;
  }

  private async archiveAndDelete(report: RetentionReport, cutoffs: Record<Severity, number>, step: StepHook): Promise<void> {
    const { store, config, metrics, log } = this.deps;
    const root = config.retention.archiveLocation;
    const lock = acquireLock(root);
    try {
      if (await tableHasTtl(store)) {
        const w = 'audit_activities carries a TTL although archiving is on: rows may be dropped unarchived; run `audithouse migrate` to reconcile';
        log.error(w);
        report.warnings.push(w);
      }
      const signer = await this.signer();
      await exportPublicKey(root, signer);
      const keys = await loadPublicKeys([path.join(root, KEYS_DIR)]);
      await clearKeys(store);
      let tip = await recoverArchiveDir(this.deps, root, signer, keys, report.recovered);

      // Archived rows wait here (keys staged in audit_archive_keys) and are deleted together:
      // one mutation per run, or per DELETE_BATCH_ROWS rows to bound the key set's memory.
      const staged: ArchiveRecord[] = [];
      let stagedRows = 0;
      const flush = async () => {
        if (staged.length === 0) return;
        await this.deleteArchived(report, staged.splice(0), step);
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
      const columns = await archiveColumns(store);
      const version = await schemaVersion(store);
      for (const g of groups) {
        const { partition } = g;
        const e = this.entry(report, partition, g.severity);
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
  private async deleteArchived(report: RetentionReport, archives: ArchiveRecord[], step: StepHook): Promise<void> {
    const { store, metrics } = this.deps;
    const seqs = archives.map((a) => a.seq);
    const partitions = [...new Set(archives.map((a) => a.partition))].sort();
    const live = await countArchivedRows(store, partitions, seqs);
    const total = [...live.values()].reduce((a, b) => a + b, 0);
    if (total > 0) {
      if (this.deps.integrity) {
        const cond = archivedRowsCondition(store, partitions, seqs);
        await recordRetentionCuts(store, this.deps.integrity.mac, cond.sql, cond.params);
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
      this.entry(report, a.partition, a.severity as Severity).deleted_rows += n;
      report.totals.deleted_rows += n;
    }
    await step('marked-deleted', { partitions, seqs });
    await clearKeys(store);
  }

  /** Archiving off: the TTL deletes; make it act now where expired rows remain. */
  private async enforceTtl(report: RetentionReport, cutoffs: Record<Severity, number>, step: StepHook): Promise<void> {
    const { store, metrics, log } = this.deps;
    if (!(await tableHasTtl(store))) {
      const w = 'audit_activities has no retention TTL although archiving is off; run `audithouse migrate` to reconcile';
      log.warn(w);
      report.warnings.push(w);
    }
    const before = await expiredGroups(store, cutoffs);
    if (this.deps.integrity && before.length > 0) {
      // The TTL deletes inside ClickHouse, by the server's clock, in any merge: record every row
      // it may take before the next run (recording a row that is still there is harmless).
      const horizon = expiredCondition(cutoffsAt(Math.max(Date.parse(report.now), Date.now()) + TTL_CUT_HORIZON_MS, this.deps.config.retention.days));
      await recordRetentionCuts(store, this.deps.integrity.mac, horizon.sql, horizon.params);
    }
    for (const partition of new Set(before.map((g) => g.partition))) {
      await materializeTtl(store, partition);
      await step('ttl-materialized', { partition });
    }
    const after = new Map((await expiredGroups(store, cutoffs)).map((g) => [`${g.partition}/${g.severity}`, g.rows]));
    for (const g of before) {
      const deleted = Math.max(0, g.rows - (after.get(`${g.partition}/${g.severity}`) ?? 0));
      Object.assign(this.entry(report, g.partition, g.severity), {
        expired_rows: g.rows,
        first_timestamp: new Date(g.firstMs).toISOString(),
        last_timestamp: new Date(g.lastMs).toISOString(),
        deleted_rows: deleted,
      });
      metrics.retentionDeleted.inc({ severity: g.severity }, deleted);
      report.totals.deleted_rows += deleted;
    }
  }
}
