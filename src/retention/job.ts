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
// This file: the job's lifecycle (one run at a time, exclusive work, the signing key, the report);
// the archiving path is in archive-run.ts, the TTL path in ttl-run.ts, the dry run in dry-run.ts.
import { loadSigner, type ArchiveSigner } from '../archive/keys.ts';
import type { StepHook } from '../archive/writer.ts';
import type { Config } from '../config.ts';
import type { Severity } from '../event/model.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Store } from '../store/client.ts';
import { cutoffsAt } from './policy.ts';
import { RetentionBusyError } from './lock.ts';
import type { MacKeys } from '../integrity/keys.ts';
import { storageSizeBytes } from '../store/storage-size.ts';
import { archiveAndDelete } from './archive-run.ts';
import { plan } from './dry-run.ts';
import type { RetentionReport } from './report.ts';
import { enforceTtl } from './ttl-run.ts';

export { RetentionBusyError } from './lock.ts';
export { ArchiveIntegrityError } from './recover.ts';

export interface RetentionRunOptions {
  dryRun?: boolean;
  /** The job's clock (epoch ms): expiry is judged against it. Production: the wall clock. */
  now?: number;
  /** Called at named points of the run; tests throw from it to stop a run as a crash would. */
  onStep?: StepHook;
}

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
      if (opts.dryRun) await plan(this.deps, report, cutoffs);
      else if (config.retention.archiveEnabled) await archiveAndDelete(this.deps, () => this.signer(), report, cutoffs, opts.onStep ?? (() => {}));
      else await enforceTtl(this.deps, report, cutoffs, opts.onStep ?? (() => {}));
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
}
