// When to try a request again, and how long to wait first.

/** Answers worth repeating: the request may succeed later unchanged. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status === 502 || status === 503 || status === 504;
}

export interface BackoffOptions {
  /** First delay (before jitter). */
  initialDelayMs: number;
  /** Upper bound of any computed delay. */
  maxDelayMs: number;
}

/**
 * Exponential backoff with "equal jitter" (a uniform draw in [base/2, base]): clients that failed
 * together do not come back together, and none retries at once.
 */
export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(o.maxDelayMs, o.initialDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + random() * (base / 2));
}

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP date; undefined if absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
