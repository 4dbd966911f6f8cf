// GET /api/v1/audit/export: the list filters, newest first, as NDJSON or CSV, streamed straight
// from the store (store.stream), so memory stays flat however many rows a tenant has. No row cap
// by default (a tenant may need its whole log for an investigation); `limit` bounds one export.
// The read is audited once the stream ends, with the rows actually sent.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { readTenant, requireScope } from '../auth/middleware.ts';
import type { AppEnv } from '../env.ts';
import { diagnosticError } from '../log-redact.ts';
import { problemResponses } from '../openapi.ts';
import { queryInt } from '../params.ts';
import { domainProblem } from '../errors.ts';
import { requestOrigin } from './access-log.ts';
import { CONTENT_TYPES, csvHeader, csvLines, ndjsonLines } from './export-format.ts';
import { FilterQuery, toFilters } from './params.ts';
import { readStream } from './pending-reads.ts';

export const MAX_EXPORT_LIMIT = 100_000_000;

export const ExportQuery = FilterQuery.extend({
  format: z.enum(['ndjson', 'csv']).default('ndjson').openapi({ description: 'ndjson (one event per line, default) or csv (RFC 4180, header row)' }),
  limit: queryInt(1, MAX_EXPORT_LIMIT).optional()
    .openapi({ description: 'At most this many events (newest first); default: all that match' }),
});

const exportRoute = createRoute({
  method: 'get',
  path: '/api/v1/audit/export',
  tags: ['query'],
  operationId: 'exportActivities',
  summary: 'Export events (streamed), newest first',
  description: 'Same filters as the list. The body is streamed; CSV fields that a spreadsheet would evaluate as formulas (leading =, +, -, @, tab, CR) are prefixed with an apostrophe.',
  security: [{ bearerAuth: [] }],
  middleware: [requireScope('audit:read')] as const,
  request: { query: ExportQuery },
  responses: {
    200: {
      description: 'The matching events',
      content: {
        'application/x-ndjson': { schema: z.string().openapi({ description: 'One AuditEvent JSON object per line' }) },
        'text/csv': { schema: z.string().openapi({ description: 'Header row, then one event per row; details as JSON text' }) },
      },
    },
    ...problemResponses(400, 401, 403, 429, 503),
  },
});

export function exportRoutes() {
  return new OpenAPIHono<AppEnv>().openapi(exportRoute, async (c) => {
    const q = c.req.valid('query');
    const tenant = readTenant(c, q.tenant_id);
    const { store, accessLog, log } = c.get('services');
    const principal = c.get('principal');
    const filters = c.req.query();
    const origin = requestOrigin(c);
    const startedAt = Date.now();
    const headers = {
      'Content-Type': CONTENT_TYPES[q.format],
      'Content-Disposition': `attachment; filename="audit-export.${q.format}"`,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    };

    const abort = new AbortController();
    const batches = readStream(store, c.get('services').writer, tenant, toFilters(q), { limit: q.limit, signal: abort.signal });
    let rows = 0;
    let finished = false;
    const finish = (completed: boolean) => {
      if (finished) return;
      finished = true;
      accessLog?.record({
        tenant, reader: principal, endpoint: 'GET /api/v1/audit/export', filters, rows, status: 200, completed, ...origin, at: startedAt,
      });
    };

    // The first batch is fetched before answering, so a query that fails at once is still a
    // proper problem+json; later failures can only cut the stream short (logged, audited).
    let first: IteratorResult<unknown[]>;
    try {
      first = await batches.next();
    } catch (err) {
      throw domainProblem(err, 'export') ?? err;
    }
    // From here on the export records its own access event, when its stream ends.
    c.set('accessAudited', true);
    const format = q.format;
    const serialize = format === 'csv' ? csvLines : ndjsonLines;
    const encoder = new TextEncoder();
    let pending: IteratorResult<unknown[]> | undefined = first;

    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        if (format === 'csv') controller.enqueue(encoder.encode(csvHeader()));
      },
      // Pull-based: the next batch is read from the store only when the client has taken the
      // previous one, so a slow reader slows the query instead of filling memory.
      async pull(controller) {
        try {
          const next = pending ?? (await batches.next());
          pending = undefined;
          if (next.done) {
            finish(true);
            controller.close();
            return;
          }
          const events = next.value as Parameters<typeof serialize>[0];
          rows += events.length;
          controller.enqueue(encoder.encode(serialize(events)));
        } catch (err) {
          // Value-free, like every 5xx: the store's message may quote the filters (src/log-redact.ts).
          log.error({ error: diagnosticError(err), method: 'GET', route: '/api/v1/audit/export', rows }, 'export: the store failed mid-stream; the response is cut short');
          finish(false);
          controller.error(err);
        }
      },
      async cancel() {
        abort.abort();
        finish(false);
        await batches.return(undefined).catch(() => {});
      },
    });

    // c.body, not new Response: headers set by middleware (rate-limit info) are kept.
    return c.body(body, 200, headers);
  });
}
