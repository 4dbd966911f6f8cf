// GET /api/v1/audit/integrity (verify the stored chains) and POST /api/v1/audit/erasure (right
// to be forgotten). Both audit:admin, both bound to the admin's tenant unless tenant_id names another.
import fs from 'node:fs';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { TenantIdSchema } from '../event/patterns.ts';
import { readTenant, requireScope } from '../auth/middleware.ts';
import type { AppEnv } from '../env.ts';
import { problem } from '../problems.ts';
import { ISO_INSTANT_SOURCE } from '../event/patterns.ts';
import { clientIp } from '../ingest/routes.ts';
import { problemResponses } from '../openapi.ts';
import { ERASED } from './canonical.ts';
import { eraseSubject } from './erasure.ts';
import { ErasureResultSchema, IntegrityReportSchema } from './schemas.ts';
import { parseSince, verifyChains } from './verify.ts';

/** What parseSince takes: a duration back from now, or a date(-time) as the read filters take it. */
const SINCE_RE = new RegExp(`^(?:\\d{1,6}[mhd]|${ISO_INSTANT_SOURCE})$`);

const integrityRoute = createRoute({
  method: 'get',
  path: '/api/v1/audit/integrity',
  tags: ['integrity'],
  operationId: 'verifyIntegrity',
  summary: 'Verify the hash chains and signed checkpoints of stored events',
  description: 'Walks every chain of the tenant in order and reports the first break of each: the stream, the sequence number and what is wrong. 200 with ok=false when something is broken.',
  security: [{ bearerAuth: [] }],
  middleware: [requireScope('audit:admin')] as const,
  request: {
    query: z.object({
      tenant_id: TenantIdSchema.optional().openapi({ description: "Default: the token's tenant" }),
      since: z.string().max(40).regex(SINCE_RE, 'must be an ISO-8601 date or date-time, or a duration such as 90m, 24h or 7d').optional()
        .openapi({ description: 'ISO-8601 date(-time) or 90m / 24h / 7d: verify only links stored since then', example: '7d' }),
    }),
  },
  responses: {
    200: { description: 'Verification report', content: { 'application/json': { schema: IntegrityReportSchema } } },
    ...problemResponses(400, 401, 403, 429),
  },
});

const ErasureBody = z.object({
  user_id: z.string().min(1).max(256).refine((s) => s !== ERASED, `"${ERASED}" is what erased values become`)
    .openapi({ description: 'The data subject', example: 'alice' }),
  tenant_id: TenantIdSchema.optional().openapi({ description: "Default: the token's tenant" }),
}).strict().openapi('ErasureRequest');

const erasureRoute = createRoute({
  method: 'post',
  path: '/api/v1/audit/erasure',
  tags: ['integrity'],
  operationId: 'eraseSubject',
  summary: 'Erase a data subject (right to be forgotten)',
  description: "Replaces the subject's user_id, IP address, user agent, personal resource ids and personal details values in stored events with \"[ERASED]\", and records an audit.erasure event that names the subject only by a keyed pseudonym. The hash chains still verify.",
  security: [{ bearerAuth: [] }],
  middleware: [requireScope('audit:admin')] as const,
  request: { body: { required: true, content: { 'application/json': { schema: ErasureBody } } } },
  responses: {
    200: { description: 'Erased', content: { 'application/json': { schema: ErasureResultSchema } } },
    ...problemResponses(400, 401, 403, 415, 501),
  },
});

export function integrityRoutes() {
  return new OpenAPIHono<AppEnv>()
    .openapi(integrityRoute, async (c) => {
      const q = c.req.valid('query');
      const tenant = readTenant(c, q.tenant_id);
      let since: number | undefined;
      if (q.since !== undefined) {
        since = parseSince(q.since);
        if (since === undefined) throw problem('invalid-parameters', 'since: must be an ISO-8601 date or date-time, or a duration such as 90m, 24h or 7d', { errors: [{ field: 'since', message: 'not a date or duration' }] });
      }
      const { integrity, store } = c.get('services');
      if (integrity.verifying) {
        throw problem('verification-running', 'A verification is already running in this instance; retry when it has finished.');
      }
      integrity.verifying = true;
      try {
        await c.get('services').writer.barrier(); // what this instance acknowledged is verified too
        const report = await verifyChains(store, integrity.keys, { tenant, since, signal: c.req.raw.signal });
        c.get('log').info({ ok: report.ok, rows: report.rows, breaks: report.breaks.length, ms: report.duration_ms }, 'integrity verified');
        return c.json(report, 200);
      } finally {
        integrity.verifying = false;
      }
    })
    .openapi(erasureRoute, async (c) => {
      const body = c.req.valid('json');
      const tenant = readTenant(c, body.tenant_id);
      const { store, writer, integrity, config, accessLog, retention, log } = c.get('services');
      if (config.clickhouse.cluster) {
        // The mutation and its lookup table would have to run on every replica's local table.
        throw problem('not-implemented', 'Erasure is not implemented for a ClickHouse cluster (CLICKHOUSE_CLUSTER) yet; nothing was changed.');
      }
      const root = config.retention.archiveLocation;
      const archives = config.retention.archiveEnabled || fs.existsSync(root) ? { root, retention, store, log } : undefined;
      const result = await eraseSubject(
        { store, writer, keys: integrity.keys, currentPii: { detailKeys: config.integrity.piiDetailKeys, resourceTypes: config.integrity.piiResourceTypes }, accessLog, archives, log: c.get('log') ?? log },
        {
          tenant,
          userId: body.user_id,
          actor: { sub: c.get('principal').sub, ip: clientIp(c), userAgent: (c.req.header('User-Agent') ?? '').slice(0, 1024), requestId: c.get('requestId') },
        },
      );
      return c.json(result, 200);
    });
}
