// Per-caller rate limit on the read endpoints (GET /api/*), so one token cannot drain the store
// with queries or exports. hono-rate-limiter with its in-memory store: a fixed one-minute window
// per key, counted synchronously, so a concurrent burst cannot slip past the limit. The key is
// the verified identity (tenant + sub), not the raw token string: fresh tokens minted for the
// same caller share its budget. Per instance: behind N replicas the effective limit is N times
// this one.
import type { MiddlewareHandler } from 'hono';
import { rateLimiter, MemoryStore } from 'hono-rate-limiter';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors.ts';

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
      throw new ApiError(429, 'rate-limited',
        `More than ${perMinute} read requests in a minute for this token; retry after ${seconds} s.`, {
          headers: { 'Retry-After': String(seconds), 'RateLimit-Limit': String(perMinute), 'RateLimit-Remaining': '0' },
        });
    },
  }) as MiddlewareHandler<AppEnv>;
  return { middleware, shutdown: () => store.shutdown() };
}
