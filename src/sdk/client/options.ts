// The client's delivery settings, their defaults and bounds, and its counters.
import type { AuditDeliveryError } from './errors.ts';

export type BufferPolicy = 'drop-newest' | 'drop-oldest' | 'throw';

export interface DeliveryOptions {
  /** Most events per request. Default 500 (the service takes up to 10,000). */
  batchSize?: number;
  /** Most bytes per request. Default 1 MiB (the service takes up to 10 MiB). */
  maxBatchBytes?: number;
  /** Longest an event waits for a batch to fill. Default 1000 ms. */
  flushIntervalMs?: number;
  /** Requests in flight at once. Default 4. */
  concurrency?: number;
  /** Most events held (waiting and in flight). Default 10,000. */
  maxBufferSize?: number;
  /**
   * What log() does when the buffer is full. Default 'drop-newest': the event being logged is
   * dropped and reported, so events already accepted keep their place. 'drop-oldest' makes room
   * by dropping the oldest waiting event; 'throw' throws BufferFullError from log().
   * Every drop counts in `stats.dropped` and reaches onError (kind 'buffer-full').
   */
  whenFull?: BufferPolicy;
  /** Attempts per event before it is abandoned. Default Infinity: the buffer bound limits what waits. */
  maxAttempts?: number;
  /** Backoff after the first failure; doubles per consecutive failure. Default 250 ms. */
  initialRetryDelayMs?: number;
  /** Cap of the backoff (a server's Retry-After is honoured up to maxRetryAfterMs). Default 30 s. */
  maxRetryDelayMs?: number;
  /** Cap on how long a Retry-After can pause delivery. Default 5 min. */
  maxRetryAfterMs?: number;
  /** Told about every delivery problem; must not throw (what it throws is ignored). */
  onError?: (err: AuditDeliveryError) => void;
}

export interface DeliveryStats {
  /** Events held now: waiting plus in flight (never above maxBufferSize). */
  buffered: number;
  inFlight: number;
  /** Events the service confirmed stored. */
  sent: number;
  /** Events dropped by the buffer policy. */
  dropped: number;
  /** Events the service refused for good (invalid, forbidden). */
  rejected: number;
  /** Events given up at close() or after maxAttempts. */
  abandoned: number;
  /** Failed requests that were retried. */
  retries: number;
}

/** The service's per-event limit; bigger events are refused at log() time. */
export const MAX_EVENT_BYTES = 64 * 1024;

export type ResolvedOptions = Required<Omit<DeliveryOptions, 'onError'>> & Pick<DeliveryOptions, 'onError'>;

export function resolveOptions(options: DeliveryOptions): ResolvedOptions {
  const o: ResolvedOptions = {
    batchSize: clamp(options.batchSize ?? 500, 1, 10_000),
    maxBatchBytes: clamp(options.maxBatchBytes ?? 1024 * 1024, MAX_EVENT_BYTES, 10 * 1024 * 1024),
    flushIntervalMs: Math.max(0, options.flushIntervalMs ?? 1000),
    concurrency: clamp(options.concurrency ?? 4, 1, 64),
    maxBufferSize: Math.max(1, options.maxBufferSize ?? 10_000),
    whenFull: options.whenFull ?? 'drop-newest',
    maxAttempts: Math.max(1, options.maxAttempts ?? Infinity),
    initialRetryDelayMs: Math.max(1, options.initialRetryDelayMs ?? 250),
    maxRetryDelayMs: Math.max(1, options.maxRetryDelayMs ?? 30_000),
    maxRetryAfterMs: Math.max(0, options.maxRetryAfterMs ?? 5 * 60_000),
    onError: options.onError,
  };
  if (!['drop-newest', 'drop-oldest', 'throw'].includes(o.whenFull)) {
    throw new TypeError(`whenFull must be 'drop-newest', 'drop-oldest' or 'throw', not ${String(options.whenFull)}`);
  }
  return o;
}

const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.trunc(n)));

/** UTF-8 length of a string without encoding it. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
