// Liveness, readiness and Prometheus metrics: no auth, nothing tenant-specific.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors.ts';
import { problemResponses } from '../openapi.ts';

const Status = z.object({ status: z.string() }).passthrough().openapi('Status');

export function healthRoutes() {
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        method: 'get', path: '/healthz', tags: ['ops'], summary: 'Liveness: the process answers',
        responses: { 200: { description: 'Alive', content: { 'application/json': { schema: Status } } } },
      }),
      (c) => c.json({ status: 'ok' }, 200),
    )
    .openapi(
      createRoute({
        method: 'get', path: '/readyz', tags: ['ops'], summary: 'Readiness: the store answers',
        responses: {
          200: { description: 'Ready', content: { 'application/json': { schema: Status } } },
          ...problemResponses(503),
        },
      }),
      async (c) => {
        const { store } = c.var.services;
        if (!(await store.ping())) {
          throw new ApiError(503, 'not-ready', 'The audit store does not answer.', { headers: { 'Retry-After': '5' } });
        }
        return c.json({ status: 'ready', store: store.kind }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get', path: '/metrics', tags: ['ops'], summary: 'Prometheus metrics',
        responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } } },
      }),
      async (c) => {
        const { registry } = c.var.services.metrics;
        return c.text(await registry.metrics(), 200, { 'Content-Type': registry.contentType });
      },
    );
}
