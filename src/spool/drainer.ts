// Moves acknowledged events from the write-ahead log into ClickHouse: one insert at a time, in
// log order, in large batches. A batch goes when `maxRows` events wait, when the oldest has
// waited `maxWaitMs`, or at once when someone needs it stored (a read barrier, erasure,
// shutdown). Rows come from memory (src/spool/pending.ts) when the log's unstored tail is there,
// else from the log on disk (a previous run's backlog, or past the memory bound).
//
// The log position is committed only once a batch is stored: a crash in between replays it,
// and the store's (tenant, id) de-duplication stores it once. A store that fails is retried
// with capped exponential backoff. A record the store refuses for good (non-retryable, three
// times, alone, while the record after it goes through) moves to quarantine/, never dropped;
// if the store refuses everything, nothing moves.
//
// Without a log (AUDIT_SPOOL_MAX_BYTES=0) the same loop inserts what callers queued, at once,
// and answers them: stored, or refused (the caller then answers 503/4xx and nothing is kept).
//
// This file: the loop, its waiters and backoff, and what happens to a refused batch. What a batch
// holds, when one is due, and the options (the one write path) are in drain-batch.ts.
import { isRetryable, loggableError } from '../store/errors.ts';
import { aheadBatch, dueIn, freshRows, memoryBatch, recordAfter, type Batch, type DrainerOptions } from './drain-batch.ts';
import type { PendingEntry, WriteResult } from './pending.ts';

const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 2_000;
const REFUSALS_BEFORE_QUARANTINE = 3;

interface Waiter {
  target: number;
  failOnError: boolean;
  resolve(stored: boolean): void;
}

export class Drainer<P> {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private sleeping: { done: () => void; backoff: boolean } | undefined;
  private waiters: Waiter[] = [];
  private closing = false;
  storeReady = false;
  /** The last store attempt failed with a retryable error (store down): not cleared by a slow success. */
  failing = false;
  /** Events accepted so far (log: acknowledged; no log: queued), incl. a previous run's backlog. */
  acknowledged: number;
  /** Events that left: stored, quarantined, or (no log) refused. Always ≤ acknowledged, in log order. */
  done = 0;
  /** When the first event of the last batch read from disk was acknowledged (its received_at). */
  diskHeadAt: number | undefined;

  /** The next batch, prepared while the current one is inserted (heavy load only). */
  private ahead: { batch: Batch; prepared: Promise<P> } | undefined;

  constructor(private readonly opts: DrainerOptions<P>) {
    this.acknowledged = opts.spool?.pendingEvents ?? 0;
  }

  start(): void {
    this.opts.ready.then(() => {
      this.storeReady = true;
      this.wake(true);
    }, () => {});
    this.loop ??= this.run();
  }

  /** New rows were accepted (`events` of them): wake the loop to reconsider when to insert. */
  accepted(events: number): void {
    this.acknowledged += events;
    this.wake();
  }

  /** Ends the loop's sleep; a backoff after a failure only when `force` (stop, shutdown, the store became ready). */
  wake(force = false): void {
    const s = this.sleeping;
    if (!s || (s.backoff && !force)) return;
    s.done();
  }

  /** Events on the log's disk only (not in memory): a backlog to replay from the files. */
  get diskBacklog(): number {
    return Math.max(0, (this.opts.spool?.pendingEvents ?? 0) - this.opts.pending.events);
  }

  /**
   * Resolves true once every event accepted before the call is stored (the next insert starts at
   * once); false after `timeoutMs`, or with `failOnError` as soon as an insert fails.
   */
  settle(opts: { timeoutMs?: number; failOnError?: boolean } = {}): Promise<boolean> {
    const target = this.acknowledged;
    if (this.done >= target) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const w: Waiter = {
        target,
        failOnError: opts.failOnError ?? false,
        resolve: (stored) => {
          if (timer) clearTimeout(timer);
          this.waiters = this.waiters.filter((x) => x !== w);
          resolve(stored);
        },
      };
      if (opts.timeoutMs !== undefined) timer = setTimeout(() => w.resolve(false), opts.timeoutMs);
      this.waiters.push(w);
      this.wake();
    });
  }

  /** Shutdown: insert whatever waits, no more batching delay. */
  hurry(): void {
    this.closing = true;
    this.wake(true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake(true);
    await this.loop;
    for (const w of [...this.waiters]) w.resolve(false);
  }

  private async run(): Promise<void> {
    let backoff = MIN_BACKOFF_MS;
    let refusals = 0;
    let failingSince = 0;
    while (!this.stopped) {
      if (!this.storeReady) {
        await this.sleep(Number.POSITIVE_INFINITY);
        continue;
      }
      let batch: Batch | undefined;
      try {
        const ahead = refusals > 0 ? undefined : this.ahead;
        this.ahead = undefined;
        batch = ahead?.batch ?? (await this.nextBatch(refusals > 0 ? 1 : Number.POSITIVE_INFINITY));
        if (!batch) continue;
        await this.storeBatch(batch, ahead?.prepared);
        if (this.failing) this.opts.log?.info({ pausedMs: Date.now() - failingSince }, 'ingest recovered: the store takes writes again');
        this.failing = false;
        backoff = MIN_BACKOFF_MS;
        refusals = 0;
        this.progress();
      } catch (err) {
        if (batch?.entries && !this.opts.spool) {
          await this.refuseUnlogged(batch.entries, err);
          continue;
        }
        if (batch && !isRetryable(err)) {
          refusals++;
          if (refusals >= REFUSALS_BEFORE_QUARANTINE && batch.groups.length === 1 && (await this.nextOneGoesThrough(batch))) {
            await this.quarantine(batch, err);
            refusals = 0;
            this.progress();
            continue;
          }
        } else {
          refusals = 0;
        }
        if (!this.failing) {
          failingSince = Date.now();
          this.opts.log?.warn({ err: loggableError(err), pending: this.opts.spool?.pendingEvents ?? 0 },
            'ingest degraded: the store does not take writes; acknowledged events wait in the log, retrying with backoff');
        }
        this.failing = true;
        // A refusal being narrowed down to its culprit is not a store failure; a down store is.
        if (!batch || isRetryable(err)) for (const w of [...this.waiters]) if (w.failOnError) w.resolve(false);
        this.progress();
        await this.sleep(backoff, true);
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
      }
    }
  }

  /** The next batch to insert, or undefined after waiting (for rows, or for them to be due). */
  private async nextBatch(maxEntries: number): Promise<Batch | undefined> {
    const spool = this.opts.spool;
    if (spool && this.diskBacklog > 0) {
      const read = await spool.read(this.opts.maxRows, maxEntries);
      this.diskHeadAt = read?.groups[0]?.[0]?.received_at;
      if (read) return { entries: undefined, spool: read, groups: read.groups, events: read.events };
    }
    const due = dueIn(this.opts, this.closing, this.waiters.length);
    if (!due.now) {
      await this.sleep(due.inMs);
      return undefined;
    }
    return memoryBatch(this.opts.pending.peek(this.opts.maxRows, maxEntries), spool);
  }

  /** Prepares (or takes the prepared) batch, inserts it, and meanwhile prepares the next one when it is due. */
  private async storeBatch(batch: Batch, preparedAhead?: Promise<P>): Promise<void> {
    let results: WriteResult[];
    try {
      const prepared = (await preparedAhead?.catch(() => undefined)) ?? (await this.opts.prepare(batch.groups, freshRows(batch)));
      const writing = this.opts.write(prepared);
      this.lookAhead(batch, prepared);
      results = await writing;
    } catch (err) {
      this.ahead = undefined; // prepared against a state that did not come to pass
      for (const e of batch.entries ?? []) e.attempted = true;
      throw err;
    }
    await this.finish(batch);
    if (batch.entries) batch.entries.forEach((e, i) => e.waiter?.resolve(results[i]!));
    if (this.opts.spool) this.opts.metrics?.spoolDrained.inc(batch.events);
  }

  /**
   * While `batch` is inserted, looks its successor's ids up and seals it, if it is due already
   * (a full batch waits, or the oldest waited long enough): under load the JS work of one batch
   * overlaps the engine's insert of the previous one. Only from memory, only in order.
   */
  private lookAhead(batch: Batch, prepared: P): void {
    const nb = aheadBatch(batch, this.opts, this.closing);
    if (!nb) return;
    const ready = this.opts.prepare(nb.groups, freshRows(nb), prepared);
    ready.catch(() => {}); // a failure here is retried when the batch's turn comes
    this.ahead = { batch: nb, prepared: ready };
  }

  /** Commits a stored (or quarantined) batch: the log position, memory, and who waits for it. */
  private async finish(batch: Batch, committed = false): Promise<void> {
    const pending = this.opts.pending;
    if (batch.spool && !committed) await this.opts.spool!.commit(batch.spool);
    if (batch.entries) pending.shift(batch.entries.length);
    else if (batch.spool) pending.shiftThrough(batch.spool.end);
    this.done += batch.events;
    for (const w of [...this.waiters]) if (this.done >= w.target) w.resolve(true);
  }

  /** Without a log nothing was acknowledged: a failed insert is answered to its callers and dropped. */
  private async refuseUnlogged(entries: PendingEntry[], err: unknown): Promise<void> {
    if (entries.length > 1 && !isRetryable(err)) {
      // One request's rows can poison a batch of many requests (and tenants): store each on its own.
      this.opts.log?.warn({ err: loggableError(err), requests: entries.length }, 'batch insert refused: retrying request by request');
      for (const e of entries) {
        try {
          await this.storeBatch({ entries: [e], spool: undefined, groups: [e.rows], events: e.rows.length });
          this.ahead = undefined;
        } catch (one) {
          await this.refuseUnlogged([e], one);
        }
      }
      return;
    }
    if (isRetryable(err)) this.failing = true;
    this.opts.log?.warn({ err: loggableError(err), rows: entries.reduce((n, e) => n + e.rows.length, 0) }, 'batch insert failed');
    await this.finish({ entries, spool: undefined, groups: [], events: entries.reduce((n, e) => n + e.rows.length, 0) });
    for (const e of entries) e.waiter?.reject(err);
    this.progress();
  }

  /**
   * Whether the store takes the record after `batch`: only then is `batch` itself the problem
   * (poison) rather than the store (a missing migration refuses everything: keep it all, retry).
   * Storing that next record early is harmless: its turn comes later and finds it stored.
   */
  private async nextOneGoesThrough(batch: Batch): Promise<boolean> {
    const groups = await recordAfter(batch, this.opts);
    if (!groups || groups.length === 0) return false;
    try {
      await this.opts.write(await this.opts.prepare(groups, new Set()));
      return true;
    } catch {
      return false;
    }
  }

  private async quarantine(batch: Batch, err: unknown): Promise<void> {
    const spool = this.opts.spool!;
    const file = await spool.quarantine(batch.spool!);
    this.opts.log?.error({ err: loggableError(err), events: batch.events, file }, 'the store refuses this record for good; moved it to quarantine (not dropped)');
    await this.finish(batch, true);
  }

  private progress(): void {
    this.opts.onProgress();
  }

  /** Sleeps `ms` or until woken (new rows, a barrier, stop); a backoff is cut short only by wake(true). */
  private sleep(ms: number, backoff = false): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(() => done(), Math.max(1, ms)) : undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        if (this.sleeping?.done === done) this.sleeping = undefined;
        resolve();
      };
      this.sleeping = { done, backoff };
    });
  }
}
