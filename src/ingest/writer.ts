// The ingest writer: a request is acknowledged once its events are fsynced into the local
// write-ahead log (src/spool/), and a single drainer moves the log into ClickHouse in large
// batches (src/spool/drainer.ts). One path, whether the store is fast, slow or down: the log
// absorbs the difference, within AUDIT_SPOOL_MAX_BYTES.
//
// Two lanes, each serialized:
// - the append lane takes every request waiting (group commit: one write and one fdatasync for
//   all of them), answers them, and keeps their rows in memory for the drainer and for reads;
// - the drainer inserts, one insert at a time, in log order, through the InsertStep's `prepare` +
//   `write` (./insert-step.ts, the one place rows reach audit_activities): de-duplication by
//   (tenant, id), then hash chains; while one batch is inserted, the next is looked up and sealed.
//
// Without a log (AUDIT_SPOOL_MAX_BYTES=0) requests wait for the drainer's insert itself, and a
// store failure is answered 503 (nothing was acknowledged, nothing is kept).
import type { EventRow } from '../event/model.ts';
import type { HashChain } from '../integrity/chain.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { Drainer } from '../spool/drainer.ts';
import { SpoolFullError, SpoolTooSmallError, SpoolUnavailableError } from '../spool/errors.ts';
import type { WriteFaults } from '../spool/faults.ts';
import { PendingRows, type PendingRow, type WriteResult } from '../spool/pending.ts';
import type { Spool } from '../spool/spool.ts';
import type { Store } from '../store/client.ts';
import { InsertError } from '../store/errors.ts';
import type { TailCache } from '../query/tail.ts';
import { InsertStep, type PreparedRows, type StoredRowsListener } from './insert-step.ts';
import { WriterClosedError, WriterOverloadedError } from './writer-errors.ts';

export type { StoredRowsListener, WriteResult };
export { WriterClosedError, WriterOverloadedError };

interface Queued {
  rows: EventRow[];
  minted: readonly boolean[] | undefined;
  resolve: (r: WriteResult) => void;
  reject: (err: unknown) => void;
}

export interface WriterOptions {
  /** Events per insert, at most. */
  maxRows: number;
  /** How long an append waits to gather more requests into its fsync (no log: into its insert). */
  lingerMs: number;
  /** Longest an acknowledged event waits in the log before its insert starts. */
  maxWaitMs?: number;
  /** Events that may wait in memory for the log; past it write() refuses (429). Also the bound of the in-memory copy of the log. */
  maxQueuedRows?: number;
  /** Links stored rows into hash chains (src/integrity); without it rows are stored unchained. */
  chain?: HashChain | undefined;
  /** The read cache this writer keeps exact: told of every stored row before the pending rows drop it. */
  tail?: TailCache | undefined;
  /** More in-memory copies of stored data kept exact the same way (the summary cache). */
  onStored?: StoredRowsListener[] | undefined;
}

export interface Durability {
  /** The write-ahead log; without it a write is answered only once stored (and refused if the store fails). */
  spool?: Spool | undefined;
  /** Resolves once the store is migrated and reachable; until then writes wait in the log. */
  storeReady?: Promise<void> | undefined;
  /** Test-only fault injection. */
  faults?: WriteFaults | undefined;
}

export type DegradedReason = 'store-failing' | 'store-slow' | 'store-unreachable' | 'replaying-spool';

export interface WriterStatus {
  closed: boolean;
  degraded: { reason: DegradedReason; since: string } | undefined;
  spool: { events: number; bytes: number; max_bytes: number; accepting: boolean } | undefined;
}

/** Acknowledged events older than this in the log count as a slow store (readiness says so). */
const SLOW_STORE_MS = 30_000;

export class BatchWriter {
  private queue: Queued[] = [];
  private queuedRows = 0;
  private timer: NodeJS.Timeout | undefined;
  private appending: Promise<void> | undefined;
  private closed = false;
  private degraded: { reason: DegradedReason; since: number } | undefined;
  private readonly spool: Spool | undefined;
  private readonly maxQueuedRows: number;
  /** Acknowledged, not yet stored events in memory (log order): what the drainer and reads use. */
  readonly pending: PendingRows;
  /** Stored events in memory for reads (src/query/tail.ts); undefined: off. */
  readonly tail: TailCache | undefined;
  private readonly step: InsertStep;
  private readonly drainer: Drainer<PreparedRows>;

  constructor(
    store: Store,
    private readonly opts: WriterOptions,
    private readonly metrics?: Metrics,
    private readonly log?: Logger,
    durability: Durability = {},
  ) {
    this.spool = durability.spool;
    this.tail = opts.tail;
    const listeners = [...(opts.tail ? [opts.tail] : []), ...(opts.onStored ?? [])];
    this.step = new InsertStep(store, opts.chain, listeners, metrics, durability.faults);
    this.maxQueuedRows = Math.max(opts.maxQueuedRows ?? 100_000, opts.maxRows);
    this.pending = new PendingRows(this.maxQueuedRows);
    this.drainer = new Drainer<PreparedRows>({
      spool: this.spool,
      pending: this.pending,
      maxRows: opts.maxRows,
      maxWaitMs: this.spool ? opts.maxWaitMs ?? 1_000 : opts.lingerMs,
      prepare: (groups, fresh, after) => this.step.prepare(groups, fresh, after),
      write: (p) => this.step.write(p),
      ready: durability.storeReady ?? Promise.resolve(),
      onProgress: () => this.updateDegraded(),
      metrics,
      log,
    });
    this.drainer.storeReady = durability.storeReady === undefined;
    metrics?.setOldestPendingSource(() => (this.spool && this.drainer.diskBacklog > 0 ? this.drainer.diskHeadAt : undefined) ?? this.pending.oldestAt());
    this.drainer.start();
    this.updateDegraded();
  }

  /** Resolves once every row is durable (in the log, or without one: stored); rejects if it could not be made so. */
  write(rows: EventRow[], opts: { minted?: readonly boolean[] } = {}): Promise<WriteResult> {
    if (this.closed) return Promise.reject(new WriterClosedError('the service is shutting down'));
    if (!this.spool) {
      if (this.pending.events > 0 && this.pending.events + rows.length > this.maxQueuedRows) {
        return Promise.reject(new WriterOverloadedError(`${this.pending.events} events are waiting to be written`));
      }
      return new Promise<WriteResult>((resolve, reject) => {
        this.pending.push({ rows, minted: opts.minted, end: undefined, waiter: { resolve, reject }, at: Date.now(), attempted: false });
        this.drainer.accepted(rows.length);
      });
    }
    if (this.queuedRows > 0 && this.queuedRows + rows.length > this.maxQueuedRows) {
      return Promise.reject(new WriterOverloadedError(`${this.queuedRows} events are waiting to be written`));
    }
    return new Promise<WriteResult>((resolve, reject) => {
      this.queue.push({ rows, minted: opts.minted, resolve, reject });
      this.queuedRows += rows.length;
      this.schedule();
    });
  }

  /** Rows waiting in memory for the log (no log: for their insert). */
  get backlog(): number {
    return this.spool ? this.queuedRows : this.pending.events;
  }

  /** Whether every acknowledged, unstored event is in memory (reads can merge them instead of waiting). */
  get pendingComplete(): boolean {
    return !this.spool || this.spool.pendingEvents === this.pending.events;
  }

  /** Whether an insert was sent for this pending row (it is new: no stored event shares its id). */
  isSent(row: EventRow): boolean {
    return this.step.isSent(row);
  }

  /** A tenant's acknowledged, not yet stored rows (oldest first), for reads. */
  pendingRows(tenant: string): PendingRow[] {
    return this.pending.snapshot(tenant);
  }

  /** What /readyz reports. */
  status(): WriterStatus {
    this.updateDegraded();
    const spool = this.spool;
    return {
      closed: this.closed,
      degraded: this.degraded ? { reason: this.degraded.reason, since: new Date(this.degraded.since).toISOString() } : undefined,
      spool: spool
        ? { events: spool.pendingEvents, bytes: spool.bytes, max_bytes: spool.maxBytes, accepting: !spool.diskError && !spool.full }
        : undefined,
    };
  }

  private schedule(): void {
    if (this.appending) return; // the running append takes the queue when it ends
    if (this.opts.lingerMs === 0 || this.queuedRows >= this.opts.maxRows) this.startAppend();
    else this.timer ??= setTimeout(() => this.startAppend(), this.opts.lingerMs);
  }

  private startAppend(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.appending || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.queuedRows = 0;
    this.appending = this.append(batch).finally(() => {
      this.appending = undefined;
      if (this.queue.length > 0) this.startAppend();
    });
  }

  /** Appends requests to the log (one write, one fsync), keeps their rows for the drainer, answers them. */
  private async append(batch: Queued[]): Promise<void> {
    const spool = this.spool!;
    let ends;
    try {
      ends = await spool.appendFrames(batch.map((q) => q.rows));
    } catch (err) {
      if (err instanceof SpoolTooSmallError) {
        // The first request alone exceeds the whole log: refuse it (413), append the others.
        batch[0]!.reject(err);
        if (batch.length > 1) await this.append(batch.slice(1));
        return;
      }
      this.updateDegraded();
      for (const q of batch) q.reject(err instanceof SpoolUnavailableError ? err : new SpoolUnavailableError(String(err), { cause: err }));
      return;
    }
    const now = Date.now();
    let events = 0;
    let inMemory = true;
    ends.forEach((end, i) => {
      const q = batch[i]!;
      events += q.rows.length;
      // Past the memory bound a request stays on disk only; the drainer reads it back from there.
      inMemory &&= this.pending.hasRoom(q.rows.length);
      if (inMemory) this.pending.push({ rows: q.rows, minted: q.minted, end, waiter: undefined, at: now, attempted: false });
    });
    if (events > 0) this.drainer.accepted(events);
    // Full while the store works (it only lags behind): that is load, 429. Full while it fails: 503.
    const refusal = () => (this.drainer.failing || !this.drainer.storeReady
      ? new SpoolFullError(spool.maxBytes)
      : new WriterOverloadedError('the write-ahead log is full and still draining into the store'));
    batch.forEach((q, i) => (i < ends.length ? q.resolve({ inserted: 0, duplicates: 0, spooled: true }) : q.reject(refusal())));
  }

  private updateDegraded(): void {
    const oldest = this.pending.oldestAt();
    const reason: DegradedReason | undefined = !this.drainer.storeReady ? 'store-unreachable'
      : this.drainer.failing ? 'store-failing'
      : this.drainer.diskBacklog > 0 ? 'replaying-spool'
      : oldest !== undefined && Date.now() - oldest > SLOW_STORE_MS ? 'store-slow'
      : undefined;
    if (reason && !this.degraded) {
      this.degraded = { reason, since: Date.now() };
      this.metrics?.ingestDegraded.set(1);
      if (reason !== 'store-failing') this.log?.warn({ reason, pending: this.spool?.pendingEvents ?? 0 }, 'ingest degraded: acknowledged events wait in the log');
    } else if (reason && this.degraded) {
      this.degraded.reason = reason;
    } else if (!reason && this.degraded) {
      this.log?.info({ reason: this.degraded.reason, degradedMs: Date.now() - this.degraded.since }, 'ingest recovered: the log drains into the store');
      this.degraded = undefined;
      this.metrics?.ingestDegraded.set(0);
    }
  }

  /**
   * Stores everything acknowledged so far (the next insert starts at once). Resolves true once
   * it is stored; false after `timeoutMs`, or with `failOnError` when an insert fails meanwhile.
   */
  async flush(opts: { timeoutMs?: number; failOnError?: boolean } = {}): Promise<boolean> {
    this.startAppend();
    while (this.appending) await this.appending;
    return this.drainer.settle(opts);
  }

  /**
   * A barrier for whoever needs every event acknowledged so far in ClickHouse (erasure,
   * verification, the summary from the views): throws a retryable store error (503) when the
   * store cannot take them within `timeoutMs`.
   */
  async barrier(timeoutMs = 30_000): Promise<void> {
    if (!(await this.flush({ timeoutMs, failOnError: true }))) {
      throw new InsertError('events acknowledged by this instance are not all stored yet (the store is down or behind)', true, undefined);
    }
  }

  /**
   * Stops accepting writes, appends what is queued, then drains the log until it is empty, the
   * store fails, or `drainDeadline` (epoch ms) passes: whatever is left stays fsynced on disk
   * and is stored first at the next start.
   */
  async close(opts: { drainDeadline?: number } = {}): Promise<void> {
    this.closed = true;
    this.startAppend();
    while (this.appending) await this.appending;
    this.drainer.hurry();
    const deadline = opts.drainDeadline ?? Date.now() + 5_000;
    // A store that never became reachable (migrations still retrying) cannot take the drain.
    const stored = this.drainer.storeReady && await this.drainer.settle({ timeoutMs: Math.max(0, deadline - Date.now()), failOnError: true });
    await this.drainer.stop();
    // Without a log, callers still waiting were never acknowledged: tell them.
    for (const e of this.pending.shift(this.pending.length)) e.waiter?.reject(new WriterClosedError('the service is shutting down'));
    this.updateDegraded();
    if (!stored && this.spool && this.spool.pendingEvents > 0) {
      this.log?.warn({ events: this.spool.pendingEvents, bytes: this.spool.bytes }, 'spool kept on disk: its events are stored first at the next start');
    }
  }
}
