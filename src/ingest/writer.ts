// The batching writer: many concurrent requests share one INSERT. It flushes when enough rows
// wait, after a short linger, and at shutdown; while one insert runs the next batch gathers
// (group commit). Each caller resolves only once its rows are stored, or rejects with the
// store's typed error. Flushes are serialized, which makes the id de-duplication exact.
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { EventRow } from './event.ts';
import { eventKey, existingKeys, insertEvents } from '../store/activities.ts';
import type { Store } from '../store/client.ts';
import type { HashChain } from '../integrity/chain.ts';

interface Pending {
  rows: EventRow[];
  resolve: (r: WriteResult) => void;
  reject: (err: unknown) => void;
}

export interface WriteResult {
  /** Rows newly stored by this call (the rest were already stored: same tenant and id). */
  inserted: number;
  duplicates: number;
}

export interface WriterOptions {
  maxRows: number;
  lingerMs: number;
  /** Links stored rows into hash chains (src/integrity); without it rows are stored unchained. */
  chain?: HashChain | undefined;
}

export class BatchWriter {
  private queue: Pending[] = [];
  private queuedRows = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly opts: WriterOptions,
    private readonly metrics?: Metrics,
    private readonly log?: Logger,
  ) {}

  /** Resolves once every row is stored (or was already); rejects if the batch could not be stored. */
  write(rows: EventRow[]): Promise<WriteResult> {
    if (this.closed) return Promise.reject(new Error('writer is closed'));
    return new Promise<WriteResult>((resolve, reject) => {
      this.queue.push({ rows, resolve, reject });
      this.queuedRows += rows.length;
      this.schedule();
    });
  }

  /** Rows waiting for the next insert. */
  get backlog(): number {
    return this.queuedRows;
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

  /** Takes whole requests up to maxRows (at least one) and stores them in one insert. */
  private async drainOnce(): Promise<void> {
    const batch: Pending[] = [];
    let n = 0;
    while (this.queue.length > 0 && (batch.length === 0 || n + this.queue[0]!.rows.length <= this.opts.maxRows)) {
      const p = this.queue.shift()!;
      batch.push(p);
      n += p.rows.length;
    }
    this.queuedRows -= n;
    try {
      const results = await this.storeBatch(batch);
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch (err) {
      this.log?.warn({ err, rows: n }, 'batch insert failed');
      for (const p of batch) p.reject(err);
    }
  }

  private async storeBatch(batch: Pending[]): Promise<WriteResult[]> {
    const all = batch.flatMap((p) => p.rows);
    const stored = await existingKeys(this.store, all);
    const fresh: EventRow[] = [];
    const results = batch.map((p) => {
      let inserted = 0;
      for (const r of p.rows) {
        const key = eventKey(r);
        if (stored.has(key)) continue;
        stored.add(key); // a repeated id later in this batch is a duplicate too
        fresh.push(r);
        inserted++;
      }
      return { inserted, duplicates: p.rows.length - inserted };
    });
    if (this.opts.chain) await this.opts.chain.append(fresh); // chains, then inserts
    else await insertEvents(this.store, fresh);
    if (this.metrics && fresh.length > 0) {
      this.metrics.ingestBatchSize.observe(fresh.length);
      for (const r of fresh) this.metrics.activitiesTotal.inc({ activity_type: this.metrics.activityTypeLabel(r.activity_type), severity: r.severity });
    }
    return results;
  }

  /** Stores everything queued so far. */
  async flush(): Promise<void> {
    this.startFlush();
    while (this.running) await this.running;
  }

  /** Stops accepting writes and stores what is queued. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }
}
