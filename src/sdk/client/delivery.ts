// Getting logged events to the service: a bounded in-memory buffer, batches cut by count, bytes
// or age, a few requests in flight, and retries that wait (exponential backoff with jitter, or
// the server's Retry-After) without ever blocking the code that logs.
//
// Every event gets its id when it is logged, so a retried batch repeats the same ids and the
// service, which stores an id once per tenant, never duplicates an event, even when a 202 was
// lost on the way back.
import { AuditDeliveryError, BufferFullError, type DeliveryErrorKind } from './errors.ts';
import { MAX_EVENT_BYTES, resolveOptions, utf8Length, type DeliveryOptions, type DeliveryStats, type ResolvedOptions } from './options.ts';
import { judgeRefusal, type Entry, type Outcome } from './refusal.ts';
import { backoffDelay } from './retry.ts';
import type { Transport } from './transport.ts';
import type { AuditEventInput } from './types.ts';
import { uuidv7 } from './uuid.ts';

interface FlushWaiter {
  target: number;
  remaining: number;
  resolve: (done: boolean) => void;
}

export class Delivery {
  private readonly o: ResolvedOptions;
  private queue: Entry[] = [];
  private queuedBytes = 0;
  private inFlightCount = 0;
  private active = 0;
  private seq = 0;
  private failures = 0;
  private pausedUntil = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;
  private waiters: FlushWaiter[] = [];
  private droppedPending: Entry[] = [];
  private closed = false;
  private readonly abort = new AbortController();
  private idle: Array<() => void> = [];
  private readonly counters = { sent: 0, dropped: 0, rejected: 0, abandoned: 0, retries: 0 };

  constructor(private readonly transport: Transport, options: DeliveryOptions = {}) {
    this.o = resolveOptions(options);
  }

  get stats(): DeliveryStats {
    return { buffered: this.queue.length + this.inFlightCount, inFlight: this.inFlightCount, ...this.counters };
  }

  /** Buffers one event and returns its id at once; the network is never waited for. */
  log(event: AuditEventInput): string {
    const now = Date.now();
    const full: AuditEventInput = {
      ...event,
      id: event.id ?? uuidv7(now),
      // The time of the deed, not of delivery: batching and retries must not move it.
      timestamp: event.timestamp ?? new Date(now).toISOString(),
    };
    const id = full.id!;
    if (this.closed) {
      this.report('closed', 'log() after close(); the event was dropped', [full]);
      return id;
    }
    let line: string;
    try {
      line = JSON.stringify(full);
    } catch (err) {
      this.counters.rejected++;
      this.report('rejected', `the event cannot be serialized to JSON: ${(err as Error).message}`, [event], err);
      return id;
    }
    const bytes = utf8Length(line);
    if (bytes > MAX_EVENT_BYTES) {
      this.counters.rejected++;
      this.report('rejected', `the event is ${bytes} bytes; the service takes at most ${MAX_EVENT_BYTES} per event`, [full]);
      return id;
    }
    const entry: Entry = { seq: 0, id, line, bytes, at: now, attempts: 0 };
    if (this.queue.length + this.inFlightCount >= this.o.maxBufferSize) {
      if (this.o.whenFull === 'throw') throw new BufferFullError(this.o.maxBufferSize);
      const oldest = this.o.whenFull === 'drop-oldest' ? this.queue.shift() : undefined;
      if (!oldest) {
        // drop-newest, or drop-oldest with everything in flight: this event gives way.
        this.drop(entry);
        return id;
      }
      this.queuedBytes -= oldest.bytes;
      this.drop(oldest);
      this.settle(oldest);
    }
    entry.seq = ++this.seq;
    this.queue.push(entry);
    this.queuedBytes += bytes;
    this.pump();
    return id;
  }

  /**
   * Resolves once every event logged before the call is settled (stored, refused or dropped):
   * true, or false if `timeoutMs` passed first (the events stay buffered).
   */
  flush(timeoutMs?: number): Promise<boolean> {
    const remaining = this.queue.length + this.inFlightCount;
    if (remaining === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waiter: FlushWaiter = {
        target: this.seq,
        remaining,
        resolve: (done) => {
          if (timer) clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(done);
        },
      };
      this.waiters.push(waiter);
      if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) timer = setTimeout(() => waiter.resolve(false), timeoutMs);
      this.pump();
    });
  }

  /** Stops accepting events, delivers what is buffered within `timeoutMs`, abandons the rest. */
  async close(timeoutMs = 10_000): Promise<void> {
    this.closed = true;
    const done = await this.flush(timeoutMs);
    if (!done) {
      const left = this.queue.splice(0);
      this.queuedBytes = 0;
      this.abort.abort(new Error('AuditClient closed'));
      this.abandon(left, `close() ran out of time (${timeoutMs} ms) with ${left.length + this.inFlightCount} event(s) undelivered`);
      if (this.active > 0) await new Promise<void>((r) => this.idle.push(r));
    }
    this.clearTimer();
    this.flushDropped();
  }

  private pump(): void {
    while (this.active < this.o.concurrency && this.queue.length > 0) {
      const now = Date.now();
      if (now < this.pausedUntil) return this.wakeAt(this.pausedUntil);
      const full = this.queue.length >= this.o.batchSize || this.queuedBytes >= this.o.maxBatchBytes;
      const due = this.closed || this.waiters.length > 0 || now - this.queue[0]!.at >= this.o.flushIntervalMs;
      if (!full && !due) return this.wakeAt(this.queue[0]!.at + this.o.flushIntervalMs);
      const batch: Entry[] = [];
      let bytes = 0;
      while (this.queue.length > 0 && batch.length < this.o.batchSize) {
        const e = this.queue[0]!;
        if (batch.length > 0 && bytes + e.bytes + 1 > this.o.maxBatchBytes) break;
        this.queue.shift();
        batch.push(e);
        bytes += e.bytes + 1;
      }
      this.queuedBytes -= bytes - batch.length;
      void this.send(batch);
    }
  }

  private async send(batch: Entry[]): Promise<void> {
    this.active++;
    this.inFlightCount += batch.length;
    let outcome: Outcome | undefined;
    try {
      const res = await this.transport.request('POST', '/api/v1/audit/activities', {
        body: batch.map((e) => e.line).join('\n'),
        contentType: 'application/x-ndjson',
        signal: this.abort.signal,
      });
      if (res.ok) {
        await res.body?.cancel().catch(() => {});
        this.failures = 0;
        this.counters.sent += batch.length;
        for (const e of batch) this.settle(e);
      } else {
        outcome = await judgeRefusal(res, batch, { maxRetryAfterMs: this.o.maxRetryAfterMs, refreshesTokens: this.transport.refreshesTokens });
        if (outcome.refused) this.refuse(outcome.refused, outcome.cause);
      }
    } catch (err) {
      // Network error or timeout: the batch may or may not be stored; its ids make a retry safe.
      outcome = { retry: batch, cause: err };
    } finally {
      this.inFlightCount -= batch.length;
      this.active--;
    }
    if (outcome?.resend) {
      this.queue.unshift(...outcome.resend);
      this.queuedBytes += outcome.resend.reduce((n, e) => n + e.bytes, 0);
    }
    if (outcome && outcome.retry.length > 0) this.retry(outcome.retry, outcome.delayMs, outcome.cause);
    if (this.active === 0) for (const r of this.idle.splice(0)) r();
    this.pump();
  }

  private retry(entries: Entry[], delayMs: number | undefined, cause: unknown): void {
    if (this.abort.signal.aborted) return this.abandon(entries, 'AuditClient closed while a request was in flight', cause);
    this.counters.retries++;
    const wait = delayMs ?? backoffDelay(++this.failures, { initialDelayMs: this.o.initialRetryDelayMs, maxDelayMs: this.o.maxRetryDelayMs });
    const keep: Entry[] = [];
    const exhausted: Entry[] = [];
    for (const e of entries) (++e.attempts >= this.o.maxAttempts ? exhausted : keep).push(e);
    if (exhausted.length > 0) this.abandon(exhausted, `gave up after ${this.o.maxAttempts} attempt(s)`, cause);
    // Back to the front, in order; the whole client pauses: what failed one request (the service
    // down, throttling) fails the others too, and Retry-After is addressed to this client.
    this.queue.unshift(...keep);
    this.queuedBytes += keep.reduce((n, e) => n + e.bytes, 0);
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + wait);
    if (keep.length > 0) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      this.report('retrying', `delivery failed (${reason}); retrying ${keep.length} event(s) in ${wait} ms`, keep.map(parse), cause, Date.now() + wait);
    }
  }

  private refuse(entries: Entry[], cause: unknown): void {
    this.counters.rejected += entries.length;
    for (const e of entries) this.settle(e);
    this.report('rejected', `the service refused ${entries.length} event(s): ${(cause as Error).message}`, entries.map(parse), cause);
  }

  private abandon(entries: Entry[], why: string, cause?: unknown): void {
    if (entries.length === 0) return;
    this.counters.abandoned += entries.length;
    for (const e of entries) this.settle(e);
    this.report('abandoned', `${why}; ${entries.length} event(s) not delivered`, entries.map(parse), cause);
  }

  /** Buffer-full drops are reported together, once per tick, not once per event. */
  private drop(e: Entry): void {
    this.counters.dropped++;
    if (this.droppedPending.push(e) === 1) queueMicrotask(() => this.flushDropped());
  }

  private flushDropped(): void {
    const dropped = this.droppedPending.splice(0);
    if (dropped.length === 0) return;
    this.report('buffer-full', `buffer full (${this.o.maxBufferSize} events, policy ${this.o.whenFull}): ${dropped.length} event(s) dropped`, dropped.map(parse));
  }

  private settle(e: Entry): void {
    if (this.waiters.length === 0 || e.seq === 0) return;
    for (const w of [...this.waiters]) {
      if (e.seq <= w.target && --w.remaining === 0) w.resolve(true);
    }
  }

  private report(kind: DeliveryErrorKind, message: string, events: AuditEventInput[], cause?: unknown, retryAt?: number): void {
    if (!this.o.onError) return;
    try {
      this.o.onError(new AuditDeliveryError(kind, message, events, cause, retryAt));
    } catch {
      // a throwing hook must not break delivery
    }
  }

  private wakeAt(at: number): void {
    if (this.timer && this.timerAt <= at) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.pump();
    }, Math.max(0, at - Date.now()));
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }
}

const parse = (e: Entry) => JSON.parse(e.line) as AuditEventInput;
