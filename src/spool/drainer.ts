// Replays the spool into ClickHouse in order, one batch at a time, through the writer's own
// store path (de-duplication by (tenant, id), then insert), and commits the spool position only
// once the batch is stored: a crash in between replays the batch, which then stores nothing new.
// A store that is down is retried with capped exponential backoff. A record the store refuses
// for good (a non-retryable error, three times, alone, while the record after it goes through)
// is moved to quarantine/, never dropped; if the store refuses everything, nothing moves.
import type { EventRow } from '../ingest/event.ts';
import { loggableError } from '../store/errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { isRetryable } from '../store/errors.ts';
import type { Spool, SpoolBatch } from './spool.ts';

const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 2_000;
const REFUSALS_BEFORE_QUARANTINE = 3;

export interface DrainerOptions {
  /** Events per replayed insert. */
  maxEvents: number;
  /** Stores rows exactly as the direct path does (serialized with it). */
  store: (groups: EventRow[][]) => Promise<unknown>;
  /** Resolves once the store is migrated and reachable. */
  ready: Promise<void>;
  /** Called after every committed batch (the writer decides when degraded mode ends). */
  onProgress: () => void;
  metrics?: Metrics | undefined;
  log?: Logger | undefined;
}

export class SpoolDrainer {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wakeUp: { done: () => void; idle: boolean } | undefined;
  private storeReady = false;
  private progressWaiters: Array<() => void> = [];
  /** True while the last attempt failed (store down): shutdown stops waiting for the drain then. */
  failing = false;

  constructor(
    private readonly spool: Spool,
    private readonly opts: DrainerOptions,
  ) {}

  start(): void {
    this.opts.ready.then(() => {
      this.storeReady = true;
      this.wake(true);
    }, () => {});
    this.loop ??= this.run();
  }

  /**
   * New records were appended (wakes an idle drainer), or, with `retryNow`, also cut a
   * backoff short (shutdown wants to know at once whether the store answers).
   */
  wake(retryNow = false): void {
    if (this.wakeUp && (this.wakeUp.idle || retryNow || this.stopped)) this.wakeUp.done();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
  }

  /** Waits until the spool is empty (true), or the store fails or the deadline passes (false). */
  async drainUntil(deadline: number): Promise<boolean> {
    this.failing = false;
    this.wake(true);
    while (this.spool.pendingEvents > 0) {
      if (this.failing || this.stopped || !this.storeReady || Date.now() >= deadline) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, Math.min(100, deadline - Date.now())));
        this.progressWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  private async run(): Promise<void> {
    while (!this.storeReady && !this.stopped) await this.sleep(Number.POSITIVE_INFINITY, false);
    let backoff = MIN_BACKOFF_MS;
    let refusals = 0;
    let failingSince = 0;
    while (!this.stopped) {
      try {
        // After a refusal, replay records one at a time to find the one the store will not take.
        const batch = this.spool.pendingEvents > 0 ? await this.spool.read(this.opts.maxEvents, refusals > 0 ? 1 : undefined) : undefined;
        if (!batch) {
          await this.sleep(Number.POSITIVE_INFINITY, true);
          continue;
        }
        try {
          if (batch.groups.length > 0) await this.opts.store(batch.groups);
        } catch (err) {
          if (isRetryable(err)) refusals = 0;
          else if (++refusals >= REFUSALS_BEFORE_QUARANTINE && batch.groups.length <= 1 && (await this.nextOneGoesThrough(batch))) {
            const file = await this.spool.quarantine(batch);
            this.opts.log?.error({ err: loggableError(err), events: batch.events, file }, 'spool: the store refuses this record for good; moved it to quarantine (not dropped)');
            refusals = 0;
            this.progress();
            continue;
          }
          throw err;
        }
        await this.spool.commit(batch);
        this.opts.metrics?.spoolDrained.inc(batch.events);
        if (this.failing) this.opts.log?.info({ pausedMs: Date.now() - failingSince }, 'spool drain resumed: the store answers again');
        this.failing = false;
        backoff = MIN_BACKOFF_MS;
        refusals = 0;
        this.progress();
      } catch (err) {
        if (!this.failing) {
          failingSince = Date.now();
          this.opts.log?.warn({ err: loggableError(err), pending: this.spool.pendingEvents }, 'spool drain paused: the store (or the spool) fails; retrying with backoff');
        }
        this.failing = true;
        this.progress();
        await this.sleep(backoff, false);
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
      }
    }
  }

  /**
   * Whether the store takes the record after `batch`: only then is `batch` itself the problem
   * (poison) rather than the store (a missing migration refuses everything: keep it all, retry).
   * Storing that next record early is harmless: it is de-duplicated when its turn comes.
   */
  private async nextOneGoesThrough(batch: SpoolBatch): Promise<boolean> {
    const next = await this.spool.read(this.opts.maxEvents, 1, batch.end);
    if (!next || next.groups.length === 0) return false;
    try {
      await this.opts.store(next.groups);
      return true;
    } catch {
      return false;
    }
  }

  private progress(): void {
    this.opts.onProgress();
    const waiters = this.progressWaiters;
    this.progressWaiters = [];
    for (const w of waiters) w();
  }

  /** Sleeps `ms`, or until stop(); an `idle` sleep also ends on the next append. */
  private sleep(ms: number, idle: boolean): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(() => done(), ms) : undefined;
      const waker = {
        idle,
        done: () => {
          if (timer) clearTimeout(timer);
          if (this.wakeUp === waker) this.wakeUp = undefined;
          resolve();
        },
      };
      const done = waker.done;
      this.wakeUp = waker;
    });
  }
}
