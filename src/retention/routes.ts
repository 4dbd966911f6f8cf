// POST /api/v1/audit/retention/run (audit:admin): run the retention job now, or (dry_run=true)
// report per partition and severity what it would archive and delete, changing nothing.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { requireScope } from '../auth/middleware.ts';
import { severities } from '../config.ts';
import type { AppEnv } from '../env.ts';
import { problemResponses } from '../openapi.ts';

const Severity = z.enum(severities as [string, ...string[]]);

export const RetentionReportSchema = z
  .object({
    dry_run: z.boolean(),
    archive_enabled: z.boolean(),
    now: z.string().openapi({ description: "The job's clock: expiry is judged against it" }),
    started_at: z.string(),
    finished_at: z.string(),
    cutoffs: z.record(z.string(), z.string()).openapi({ description: 'Per severity: rows with a timestamp before this are expired' }),
    partitions: z.array(z.object({
      partition: z.string().openapi({ example: '202501', description: 'Month partition (toYYYYMM(timestamp))' }),
      severity: Severity,
      expired_rows: z.number().int(),
      first_timestamp: z.string().nullable(),
      last_timestamp: z.string().nullable(),
      archived_rows: z.number().int().openapi({ description: 'Written to an archive (dry run: would be)' }),
      deleted_rows: z.number().int().openapi({ description: 'Deleted from audit_activities (dry run: would be)' }),
      archive_seq: z.number().int().nullable(),
    })),
    archives: z.array(z.object({
      seq: z.number().int(), partition: z.string(), severity: z.string(), file: z.string(), manifest: z.string(),
      rows: z.number().int(), sha256: z.string(),
    })),
    totals: z.object({ archives: z.number().int(), archived_rows: z.number().int(), deleted_rows: z.number().int() }),
    recovered: z.object({
      discarded_temp_files: z.number().int(),
      discarded_data_files: z.number().int(),
      adopted_archives: z.number().int(),
      quarantined_archives: z.number().int(),
      resumed_deletions: z.number().int(),
    }).openapi({ description: 'What this run repaired after an interrupted one' }),
    warnings: z.array(z.string()),
  })
  .openapi('RetentionReport');

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
