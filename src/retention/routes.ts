// POST /api/v1/audit/retention/run (audit:admin): run the retention job now, or (dry_run=true)
// report per partition and severity what it would archive and delete, changing nothing.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { requireScope } from '../auth/middleware.ts';
import type { AppEnv } from '../env.ts';
import { problemResponses } from '../openapi.ts';
import { RetentionReportSchema } from './report.ts';

const runRoute = createRoute({
  method: 'post',
  path: '/api/v1/audit/retention/run',
  tags: ['retention'],
  operationId: 'runRetention',
  summary: 'Run the retention/archive job now',
  description: 'With dry_run=true nothing changes: the report says, per month partition and severity, what would be archived and deleted.',
  security: [{ bearerAuth: [] }],
  middleware: [requireScope('audit:admin')] as const,
  request: {
    // Strict: a misspelt dry_run must be refused, never read as "do it for real".
    query: z.strictObject({
      dry_run: z.enum(['true', 'false', '1', '0']).default('false').transform((v) => v === 'true' || v === '1')
        .openapi({ description: 'Report only', example: 'true' }),
    }),
  },
  responses: {
    200: { description: 'The run finished', content: { 'application/json': { schema: RetentionReportSchema } } },
    ...problemResponses(400, 401, 403, 409),
  },
});

export function retentionRoutes() {
  return new OpenAPIHono<AppEnv>().openapi(runRoute, async (c) => {
    const { dry_run } = c.req.valid('query');
    // A run in progress (RetentionBusyError) or an inconsistent archive directory
    // (ArchiveIntegrityError) is a 409, decided with every other domain error in src/errors.ts.
    const report = await c.get('services').retention.run({ dryRun: dry_run });
    return c.json(report, 200);
  });
}
