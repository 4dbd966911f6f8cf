// Liveness, readiness and Prometheus metrics: no auth, nothing tenant-specific.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { problem } from '../problems.ts';
import { problemResponses } from '../openapi.ts';

const Status = z.object({ status: z.string() }).passthrough().openapi('Status');

export function healthRoutes() {
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        method: 'get', path: '/healthz', tags: ['ops'], operationId: 'getLiveness', security: [], summary: 'Liveness: the process answers',
        responses: { 200: { description: 'Alive', content: { 'application/json': { schema: Status } } } },
      }),
      (c) => c.json({ status: 'ok' }, 200),
    )
    .openapi(
      createRoute({
        method: 'get', path: '/readyz', tags: ['ops'], operationId: 'getReadiness', security: [], summary: 'Readiness: writes are accepted durably',
        description: '200 `ready`: writes are acknowledged from the write-ahead log and the store takes its batches. 200 `degraded`: the store is down, slow or still replaying a backlog, and acknowledged events wait in the log; the instance still accepts writes durably, so it stays in rotation. 503: writes cannot be accepted (shutting down, the log is full or its disk fails, or without a log the store is down).',
        responses: {
          200: { description: 'Ready or degraded', content: { 'application/json': { schema: Status } } },
          ...problemResponses(503),
        },
      }),
      async (c) => {
        const { store, writer } = c.get('services');
        const w = writer.status();
        if (w.closed) throw problem('shutting-down', 'This instance is shutting down.');
        // Every write goes through the log: a log that cannot take more means no writes at all.
        if (w.spool && !w.spool.accepting) {
          throw problem('not-ready', 'The write-ahead log cannot take more writes (full while the store is behind or down, or its disk fails).');
        }
        const degraded = (reason: string) => {
          if (!w.spool) throw problem('not-ready', 'The audit store does not answer.');
          return c.json({ status: 'degraded', reason, store: store.kind, since: w.degraded?.since, spool: w.spool }, 200);
        };
        if (w.degraded) return degraded(w.degraded.reason);
        if (!(await store.ping())) return degraded('store-unreachable');
        return c.json({ status: 'ready', store: store.kind, ...(w.spool ? { spool: w.spool } : {}) }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get', path: '/metrics', tags: ['ops'], operationId: 'getMetrics', security: [], summary: 'Prometheus metrics',
        responses: { 200: { description: 'Prometheus text exposition format 0.0.4', content: { 'text/plain': { schema: z.string().openapi({ description: 'text/plain; version=0.0.4' }) } } } },
      }),
      async (c) => {
        const { registry } = c.get('services').metrics;
        return c.text(await registry.metrics(), 200, { 'Content-Type': registry.contentType });
      },
    );
}
