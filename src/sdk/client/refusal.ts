// What a non-2xx answer means for the batch that got it: retried after a pause (throttling, the
// service unavailable, a first 500, a 401 once the token can be refreshed), refused for good, or
// split when the service names the bad events. Delivery (delivery.ts) acts on the outcome.
import { isRetryableStatus, parseRetryAfter } from './retry.ts';
import { httpError } from './transport.ts';

const MAX_ATTEMPTS_ON_500 = 3;

/** One buffered event, serialized once when it is logged. */
export interface Entry {
  seq: number;
  id: string;
  line: string;
  bytes: number;
  at: number;
  attempts: number;
  /** A 401 gets one more try with a fresh token from getToken. */
  authRetried?: boolean;
}

/** After a request: what to retry after a pause, what to send again at once, what is refused. */
export interface Outcome {
  retry: Entry[];
  delayMs?: number;
  cause?: unknown;
  resend?: Entry[];
  /** Refused for good (to be counted and reported, with `cause`). */
  refused?: Entry[];
}

/** A non-2xx answer: what to retry (and when); the rest is refused for good. */
export async function judgeRefusal(
  res: Response,
  batch: Entry[],
  o: { maxRetryAfterMs: number; refreshesTokens: boolean },
): Promise<Outcome> {
  const err = await httpError(res);
  if (isRetryableStatus(res.status)) {
    const after = parseRetryAfter(res.headers.get('Retry-After'));
    return { retry: batch, cause: err, ...(after !== undefined ? { delayMs: Math.min(after, o.maxRetryAfterMs) } : {}) };
  }
  // A 500 is unexpected: it may pass (a store hiccup) or repeat forever (a poison batch), so
  // it gets a few tries, not unlimited ones.
  if (res.status === 500 && batch[0]!.attempts < MAX_ATTEMPTS_ON_500 - 1) return { retry: batch, cause: err };
  if (res.status === 401 && o.refreshesTokens && !batch[0]!.authRetried) {
    for (const e of batch) e.authRetried = true;
    return { retry: batch, cause: err, delayMs: 0 };
  }
  // All-or-nothing refusals that name the bad events (422 invalid, 413 oversize): drop those,
  // send the others again at once; one bad event must not sink its batch.
  const bad = new Set((err.problem?.errors ?? []).map((e) => e.index).filter((i): i is number => Number.isInteger(i)));
  if ((res.status === 422 || res.status === 413) && bad.size > 0 && bad.size < batch.length) {
    const refused = batch.filter((_, i) => bad.has(i));
    const rest = batch.filter((_, i) => !bad.has(i));
    return { retry: [], resend: rest, refused, cause: err };
  }
  return { retry: [], refused: batch, cause: err };
}
