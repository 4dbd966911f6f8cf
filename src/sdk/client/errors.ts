// What the client reports. Delivery problems never throw at the caller of log() (except the
// opt-in 'throw' buffer policy); they reach the onError hook as AuditDeliveryError.
import type { AuditEventInput, Problem } from './types.ts';

/** An HTTP answer other than the expected one, with the service's problem+json when it sent one. */
export class AuditHttpError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'AuditHttpError';
  }
}

export type DeliveryErrorKind =
  /** The buffer was full; `events` were dropped by the buffer policy. */
  | 'buffer-full'
  /** The service refused `events` for good (e.g. 422 invalid, 403 wrong tenant); they are dropped. */
  | 'rejected'
  /** A transient failure (network, 429, 503...); `events` stay buffered and are retried. */
  | 'retrying'
  /** `close()` ran out of time, or retries were exhausted; `events` were not delivered. */
  | 'abandoned'
  /** log() after close(); the event is dropped. */
  | 'closed';

export class AuditDeliveryError extends Error {
  constructor(
    readonly kind: DeliveryErrorKind,
    message: string,
    /** The events concerned (so a caller can persist them elsewhere). */
    readonly events: AuditEventInput[],
    cause?: unknown,
    /** Set for 'retrying': when the next attempt starts (ms since epoch). */
    readonly retryAt?: number,
  ) {
    // `cause`: the AuditHttpError (with the problem+json) or the network error behind it.
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'AuditDeliveryError';
  }

  /** True when the events are still buffered and will be tried again. */
  get willRetry(): boolean {
    return this.kind === 'retrying';
  }
}

/** Thrown by log() only with `whenFull: 'throw'`. */
export class BufferFullError extends Error {
  constructor(readonly limit: number) {
    super(`audithouse client buffer is full (${limit} events); the event was not accepted`);
    this.name = 'BufferFullError';
  }
}
