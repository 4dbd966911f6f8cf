// Per-caller rate limit on the read endpoints (GET /api/*), so one token cannot drain the store
// with queries or exports. hono-rate-limiter with its in-memory store: a fixed one-minute window
// per key, counted synchronously, so a concurrent burst cannot slip past the limit. The key is
// the verified identity (tenant + sub), not the raw token string: fresh tokens minted for the
// same caller share its budget. Per instance: behind N replicas the effective limit is N times
// this one.
import type { MiddlewareHandler } from 'hono';
import { rateLimiter, MemoryStore } from 'hono-rate-limiter';
import type { AppEnv } from '../env.ts';
import { problem } from '../problems.ts';

const WINDOW_MS = 60_000;

export interface ReadRateLimit {
  middleware: MiddlewareHandler<AppEnv>;
  /** Stops the store's cleanup timer. */
  shutdown(): void;
}

export function readRateLimit(perMinute: number): ReadRateLimit {
  if (perMinute <= 0) return { middleware: async (_c, next) => next(), shutdown() {} };
  const store = new MemoryStore<AppEnv>();
  const middleware = rateLimiter<AppEnv>({
    windowMs: WINDOW_MS,
    limit: perMinute,
    standardHeaders: 'draft-6',
    store,
    // Runs after `authenticate`, so the principal is verified; only reads are limited here.
    skip: (c) => c.req.method !== 'GET' && c.req.method !== 'HEAD',
    keyGenerator: (c) => `${c.get('principal').tenantId}\u0000${c.get('principal').sub}`,
    handler: (c) => {
      const info = c.get('rateLimit' as never) as { resetTime?: Date } | undefined;
      const seconds = info?.resetTime ? Math.max(1, Math.ceil((info.resetTime.getTime() - Date.now()) / 1000)) : WINDOW_MS / 1000;
      throw problem('rate-limited',
        `More than ${perMinute} read requests in a minute for this token; retry after ${seconds} s.`, {
          retryAfter: seconds, headers: { 'RateLimit-Limit': String(perMinute), 'RateLimit-Remaining': '0' },
        });
    },
  }) as MiddlewareHandler<AppEnv>;
  return { middleware, shutdown: () => store.shutdown() };
}

export interface WriteRateLimit {
  /** The budget in events per minute per tenant (0: off). */
  readonly perMinute: number;
  /**
   * Counts `events` against the tenant's budget of the current minute, or throws a 429 with
   * Retry-After and charges nothing when they do not fit (so a client may retry a smaller batch).
   */
  charge(tenant: string, events: number): void;
  /** Gives back what a write that then failed was charged (it stored nothing). */
  refund(tenant: string, events: number): void;
  shutdown(): void;
}

/**
 * Per-tenant write budget in events per minute (AUDIT_WRITE_RATE_LIMIT), for every ingest path
 * (native JSON/NDJSON and OTLP). Same library, store and window as the read limit, but the unit
 * is events, not requests: a 10,000-event batch costs 10,000, so batching cannot dodge it. It is
 * charged once the events are known and valid, right before they are written, which a request
 * middleware could not do (the count is in the body). Keyed by the token's tenant: every
 * service of a tenant shares its budget, one tenant flooding cannot slow another's writes.
 */
export function writeRateLimit(perMinute: number): WriteRateLimit {
  if (perMinute <= 0) return { perMinute: 0, charge() {}, refund() {}, shutdown() {} };
  const store = new MemoryStore();
  // The store only reads windowMs from the middleware options it is normally given.
  store.init({ windowMs: WINDOW_MS } as Parameters<MemoryStore['init']>[0]);
  return {
    perMinute,
    charge(tenant, events) {
      if (events <= 0) return;
      const now = Date.now();
      const current = store.get(tenant);
      const live = current?.resetTime && current.resetTime.getTime() > now ? current : undefined;
      const used = live?.totalHits ?? 0;
      if (used + events > perMinute) {
        const seconds = live?.resetTime ? Math.max(1, Math.ceil((live.resetTime.getTime() - now) / 1000)) : WINDOW_MS / 1000;
        const left = Math.max(0, perMinute - used);
        const detail = events > perMinute
          ? `This request holds ${events} events, more than the tenant's whole write budget of ${perMinute} events per minute; send it in batches of at most ${perMinute}.`
          : `The tenant's write budget is ${perMinute} events per minute; ${left} left in this minute, this request holds ${events}. Nothing was stored; retry after ${seconds} s.`;
        throw problem('write-rate-limited', detail, {
          retryAfter: seconds, headers: { 'RateLimit-Limit': String(perMinute), 'RateLimit-Remaining': String(left) },
        });
      }
      for (let i = 0; i < events; i++) store.increment(tenant);
    },
    refund(tenant, events) {
      for (let i = 0; i < events; i++) store.decrement(tenant);
    },
    shutdown: () => store.shutdown(),
  };
}
