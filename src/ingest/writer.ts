// The batching writer: many concurrent requests share one INSERT. It flushes when enough rows
// wait, after a short linger, and at shutdown; while one insert runs the next batch gathers
// (group commit). Each caller resolves only once its rows are durable: stored, or, when the
// store is down or slower than the deadline, fsynced into the spool (src/spool/), from which a
// drainer replays them in order through the very same store path.
//
// Two serialized lanes keep that exact:
// - the flush lane takes batches off the queue one at a time and either inserts them (direct
//   mode) or appends them to the spool (degraded mode: while anything is spooled, new batches
//   queue up behind it there, so nothing overtakes what was acknowledged earlier);
// - the store lock admits one store write at a time (a direct insert, or a replayed spool
//   batch), which makes the (tenant, id) de-duplication exact, also for a timed-out insert that
//   still lands later: its spooled copy is replayed only after it settled, and finds it stored.
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { EventRow } from './event.ts';
import { SpoolDrainer } from '../spool/drainer.ts';
import { SpoolFullError, SpoolTooSmallError, SpoolUnavailableError } from '../spool/errors.ts';
import type { FaultInjector } from '../spool/faults.ts';
import type { Spool } from '../spool/spool.ts';
import { eventKey, existingKeys, insertEvents } from '../store/activities.ts';
import type { HashChain } from '../integrity/chain.ts';
import type { Store } from '../store/client.ts';
import { isRetryable, loggableError } from '../store/errors.ts';

interface Pending {
  rows: EventRow[];
  /** minted[i]: rows[i].id was generated here just now (UUIDv7), so it cannot be stored yet. */
  minted?: readonly boolean[] | undefined;
  resolve: (r: WriteResult) => void;
  reject: (err: unknown) => void;
}

export interface WriteResult {
  /** Rows newly stored by this call (the rest were already stored: same tenant and id). */
  inserted: number;
  duplicates: number;
  /** Acknowledged from the spool: stored later by the drainer (inserted/duplicates are then 0). */
  spooled: boolean;
}

export interface WriterOptions {
  maxRows: number;
  lingerMs: number;
  /** A direct insert still running after this many ms is answered from the spool instead. */
  deadlineMs?: number;
  /** Rows that may wait in memory; past it write() refuses (429) instead of growing without bound. */
  maxQueuedRows?: number;
  /** Links stored rows into hash chains (src/integrity); without it rows are stored unchained. */
  chain?: HashChain | undefined;
}

export interface Durability {
  /** Where acknowledged rows go when the store is down or slow; without it such writes fail (503). */
  spool?: Spool | undefined;
  /** Resolves once the store is migrated and reachable; until then writes go to the spool. */
  storeReady?: Promise<void> | undefined;
  /** Test-only fault injection. */
  faults?: FaultInjector | undefined;
}

export type DegradedReason = 'store-failing' | 'store-slow' | 'store-unreachable' | 'replaying-spool';

export interface WriterStatus {
  closed: boolean;
  degraded: { reason: DegradedReason; since: string } | undefined;
  spool: { events: number; bytes: number; max_bytes: number; accepting: boolean } | undefined;
}

/** The writer is shutting down: the request should go to another instance or be retried. */
export class WriterClosedError extends Error {
  override readonly name = 'WriterClosedError';
}

/** Too many rows wait in memory (the store and the spool do not keep up): back off and retry. */
export class WriterOverloadedError extends Error {
  override readonly name = 'WriterOverloadedError';
}

/** A direct insert took longer than the deadline; its batch goes to the spool. */
class StoreDeadlineError extends Error {
  override readonly name = 'StoreDeadlineError';
}

export class BatchWriter {
  private queue: Pending[] = [];
  private queuedRows = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private storeTail: Promise<unknown> = Promise.resolve();
  private storeReady: boolean;
  private degraded: { reason: DegradedReason; since: number } | undefined;
  /** The last store write failed (retryable); a slow but working store does not count. */
  private storeFailing = false;
  private readonly spool: Spool | undefined;
  private readonly drainer: SpoolDrainer | undefined;
  private readonly maxQueuedRows: number;

  constructor(
    private readonly store: Store,
    private readonly opts: WriterOptions,
    private readonly metrics?: Metrics,
    private readonly log?: Logger,
    private readonly durability: Durability = {},
  ) {
    this.spool = durability.spool;
    this.maxQueuedRows = Math.max(opts.maxQueuedRows ?? Number.POSITIVE_INFINITY, opts.maxRows);
    this.storeReady = durability.storeReady === undefined;
    const ready = durability.storeReady ?? Promise.resolve();
    ready.then(() => {
      this.storeReady = true;
      this.maybeRecovered();
    }, () => {});
    if (this.spool) {
      this.drainer = new SpoolDrainer(this.spool, {
        maxEvents: opts.maxRows,
        store: (groups) => this.storeLocked(groups),
        ready,
        onProgress: () => this.maybeRecovered(),
        metrics,
        log,
      });
      if (!this.storeReady) this.enterDegraded('store-unreachable');
      else if (this.spool.pendingEvents > 0) this.enterDegraded('replaying-spool');
      this.drainer.start();
    }
  }

  /** Resolves once every row is durable (stored, or spooled); rejects if it could not be made so. */
  write(rows: EventRow[], opts: { minted?: readonly boolean[] } = {}): Promise<WriteResult> {
    if (this.closed) return Promise.reject(new WriterClosedError('the service is shutting down'));
    if (this.queuedRows > 0 && this.queuedRows + rows.length > this.maxQueuedRows) {
      return Promise.reject(new WriterOverloadedError(`${this.queuedRows} events are waiting to be written`));
    }
    return new Promise<WriteResult>((resolve, reject) => {
      this.queue.push({ rows, minted: opts.minted, resolve, reject });
      this.queuedRows += rows.length;
      this.schedule();
    });
  }

  /** Rows waiting for the next insert. */
  get backlog(): number {
    return this.queuedRows;
  }

  /** What /readyz reports. */
  status(): WriterStatus {
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
    if (this.running) return; // the running flush picks the queue up when it ends
    if (this.queuedRows >= this.opts.maxRows || this.opts.lingerMs === 0) {
      this.startFlush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.startFlush(), this.opts.lingerMs);
    }
  }

  private startFlush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.running || this.queue.length === 0) return;
    this.running = this.drainOnce().finally(() => {
      this.running = undefined;
      if (this.queue.length > 0) this.startFlush();
    });
  }

  /** Takes whole requests up to maxRows (at least one) and makes them durable in one go. */
  private async drainOnce(): Promise<void> {
    const batch: Pending[] = [];
    let n = 0;
    while (this.queue.length > 0 && (batch.length === 0 || n + this.queue[0]!.rows.length <= this.opts.maxRows)) {
      const p = this.queue.shift()!;
      batch.push(p);
      n += p.rows.length;
    }
    this.queuedRows -= n;
    await this.processBatch(batch);
  }

  /** Stores a batch directly, or through the spool when the store is down, slow or behind. */
  private async processBatch(batch: Pending[]): Promise<void> {
    const n = batch.reduce((sum, p) => sum + p.rows.length, 0);
    if (this.spool && (this.spool.pendingEvents > 0 || !this.storeReady)) {
      await this.toSpool(batch); // keep order: behind what is already spooled
      return;
    }
    try {
      // Ids minted by this process need no lookup (the expensive part of a flush). Only on this
      // direct path: a spooled batch may have been stored already by an insert that outran its deadline.
      const fresh = new Set<EventRow>(batch.flatMap((p) => (p.minted ? p.rows.filter((_, i) => p.minted![i]) : [])));
      const results = await this.storeDirect(batch.map((p) => p.rows), fresh);
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch (err) {
      const slow = err instanceof StoreDeadlineError;
      if (this.spool && (slow || isRetryable(err))) {
        this.log?.warn({ err: loggableError(err), rows: n }, slow ? 'store write over the deadline: acknowledging through the spool' : 'batch insert failed: acknowledging through the spool');
        this.enterDegraded(slow ? 'store-slow' : 'store-failing');
        await this.toSpool(batch);
        return;
      }
      if (batch.length > 1 && !slow && !isRetryable(err)) {
        // The store refused the shared insert outright: one request's rows can poison a batch of
        // many requests (and tenants). Store each request on its own, so only the culprit fails.
        this.log?.warn({ err: loggableError(err), requests: batch.length }, 'batch insert refused: retrying request by request');
        for (const p of batch) await this.processBatch([p]);
        return;
      }
      this.log?.warn({ err: loggableError(err), rows: n }, 'batch insert failed');
      for (const p of batch) p.reject(err);
    }
  }

  /** Inserts under the store lock; with a spool, gives up waiting after the deadline (the insert itself goes on). */
  private storeDirect(groups: EventRow[][], minted?: ReadonlySet<EventRow>): Promise<WriteResult[]> {
    const op = this.storeLocked(groups, minted);
    const deadline = this.opts.deadlineMs;
    if (!this.spool || !deadline) return op;
    return new Promise<WriteResult[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new StoreDeadlineError(`store write still running after ${deadline} ms`)), deadline);
      op.then(
        (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        (err) => {
          clearTimeout(timer);
          reject(err); // no-op if the deadline already answered
        },
      );
    });
  }

  /** Appends a batch to the spool (one fsync) and answers its callers. */
  private async toSpool(batch: Pending[]): Promise<void> {
    const spool = this.spool!;
    let accepted: number;
    try {
      accepted = await spool.append(batch.map((p) => p.rows));
    } catch (err) {
      if (err instanceof SpoolTooSmallError) {
        // The first request alone exceeds the spool: refuse it (413), spool the others.
        batch[0]!.reject(err);
        if (batch.length > 1) await this.toSpool(batch.slice(1));
        return;
      }
      for (const p of batch) p.reject(err instanceof SpoolUnavailableError ? err : new SpoolUnavailableError(String(err), { cause: err }));
      return;
    }
    // Full while the store works (it only lags behind): that is load, 429. Full while it fails: 503.
    const refusal = () => (this.storeFailing || !this.storeReady
      ? new SpoolFullError(spool.maxBytes)
      : new WriterOverloadedError('the spool is full and still draining into the store'));
    batch.forEach((p, i) => (i < accepted ? p.resolve({ inserted: 0, duplicates: 0, spooled: true }) : p.reject(refusal())));
    if (accepted > 0) {
      if (!this.degraded) this.enterDegraded('store-failing');
      this.drainer!.wake();
    }
  }

  /** storeRows, one at a time (direct inserts and spool replays alike), noting whether the store works. */
  private storeLocked(groups: EventRow[][], minted?: ReadonlySet<EventRow>): Promise<WriteResult[]> {
    const run = this.storeTail.then(async () => {
      try {
        const results = await this.storeRows(groups, minted);
        this.storeFailing = false;
        return results;
      } catch (err) {
        if (isRetryable(err)) this.storeFailing = true;
        throw err;
      }
    });
    this.storeTail = run.catch(() => {});
    return run;
  }

  /**
   * THE one place rows are written to audit_activities, for the direct path and the spool
   * replay alike. Always called under the store lock (serialized), so whatever it reads
   * (stored ids, and later hash-chain heads) cannot change under it.
   */
  private async storeRows(groups: readonly EventRow[][], minted?: ReadonlySet<EventRow>): Promise<WriteResult[]> {
    const all = groups.flat();
    await this.durability.faults?.beforeStoreWrite(all);
    // A minted id repeated within the batch is still caught below, by the in-batch set.
    const stored = await existingKeys(this.store, minted?.size ? all.filter((r) => !minted.has(r)) : all);
    const fresh: EventRow[] = [];
    const results = groups.map((rows) => {
      let inserted = 0;
      for (const r of rows) {
        const key = eventKey(r);
        if (stored.has(key)) continue;
        stored.add(key); // a repeated id later in this batch is a duplicate too
        fresh.push(r);
        inserted++;
      }
      return { inserted, duplicates: rows.length - inserted, spooled: false };
    });
    if (this.opts.chain) await this.opts.chain.append(fresh); // chains, then inserts
    else await insertEvents(this.store, fresh);
    if (this.metrics && fresh.length > 0) {
      this.metrics.ingestBatchSize.observe(fresh.length);
      for (const r of fresh) this.metrics.activitiesTotal.inc({ activity_type: this.metrics.activityTypeLabel(r.activity_type), severity: r.severity });
    }
    return results;
  }

  private enterDegraded(reason: DegradedReason): void {
    if (this.degraded) return;
    this.degraded = { reason, since: Date.now() };
    this.metrics?.ingestDegraded.set(1);
    this.log?.warn({ reason, spooled: this.spool?.pendingEvents ?? 0 }, 'ingest degraded: acknowledging writes through the spool');
  }

  /** Leaves degraded mode once the spool is empty and the store is usable. */
  private maybeRecovered(): void {
    if (!this.degraded || !this.storeReady || (this.spool && this.spool.pendingEvents > 0)) return;
    this.log?.info({ reason: this.degraded.reason, degradedMs: Date.now() - this.degraded.since }, 'ingest recovered: spool drained, writing to the store directly');
    this.degraded = undefined;
    this.metrics?.ingestDegraded.set(0);
  }

  /** Makes everything queued so far durable. */
  async flush(): Promise<void> {
    this.startFlush();
    while (this.running) await this.running;
  }

  /**
   * Stops accepting writes, makes what is queued durable, then replays the spool until it is
   * empty, the store fails, or `drainDeadline` (epoch ms) passes: whatever is left stays
   * fsynced on disk and is replayed at the next start.
   */
  async close(opts: { drainDeadline?: number } = {}): Promise<void> {
    this.closed = true;
    await this.flush();
    if (this.drainer && this.spool) {
      const drained = await this.drainer.drainUntil(opts.drainDeadline ?? Date.now() + 5_000);
      await this.drainer.stop();
      if (drained) this.maybeRecovered();
      else this.log?.warn({ events: this.spool.pendingEvents, bytes: this.spool.bytes }, 'spool kept on disk: replayed first at the next start');
    }
    await this.storeTail;
  }
}

