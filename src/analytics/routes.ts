// GET /api/v1/audit/summary: aggregates over the last N days, bound to the caller's tenant.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { TenantIdSchema } from '../event/patterns.ts';
import { readTenant, requireScope } from '../auth/middleware.ts';
import type { AppEnv } from '../env.ts';
import { problemResponses } from '../openapi.ts';
import { queryInt } from '../params.ts';
import { AuditSummary, summarize } from './summary.ts';
import { MAX_SUMMARY_DAYS } from './views.ts';

const SummaryQuery = z.strictObject({
  days: queryInt(1, MAX_SUMMARY_DAYS).default(7)
    .openapi({ description: `Whole UTC days counted, today included (1-${MAX_SUMMARY_DAYS})`, example: 7 }),
  top: queryInt(1, 100).default(10)
    .openapi({ description: 'Entries in top_users and top_resources (1-100)', example: 10 }),
  tenant_id: TenantIdSchema.optional().openapi({ description: 'Another tenant to read; audit:admin only' }),
});

const summaryRoute = createRoute({
  method: 'get',
  path: '/api/v1/audit/summary',
  tags: ['analytics'],
  operationId: 'getSummary',
  summary: 'Totals, daily series, top users and resources over the last N days',
  description:
    'Served from materialized views, so it costs the same at any volume, and it still covers days whose raw ' +
    'events retention has already deleted.',
  security: [{ bearerAuth: [] }],
  middleware: [requireScope('audit:read')] as const,
  request: { query: SummaryQuery },
  responses: {
    200: { description: 'The summary', content: { 'application/json': { schema: AuditSummary } } },
    ...problemResponses(400, 401, 403, 429),
  },
});

export function analyticsRoutes() {
  return new OpenAPIHono<AppEnv>().openapi(summaryRoute, async (c) => {
    const q = c.req.valid('query');
    const tenant = readTenant(c, q.tenant_id);
    // The views are fed by inserts: first store what this instance acknowledged (read-your-writes).
    await c.get('services').writer.barrier(5_000);
    const { store, summaries } = c.get('services');
    const req = { tenant, days: q.days, top: q.top };
    return c.json(await (summaries ? summaries.summarize(req) : summarize(store, req)), 200);
  });
}
