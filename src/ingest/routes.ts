// POST /api/v1/audit/activities: one event, a JSON array, or NDJSON; 202 only once stored.
// All-or-nothing by default; with ?partial=true the valid events are stored and the others
// listed, for shippers that cannot split a batch (syslog-ng, Fluent Bit, Vector).
import { getConnInfo } from '@hono/node-server/conninfo';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { requireScope } from '../auth/middleware.ts';
import type { AppEnv } from '../env.ts';
import { domainProblem } from '../errors.ts';
import { ApiError } from '../problems.ts';
import { invalidParameters } from '../params.ts';
import { bodyFormat, NDJSON_MEDIA_TYPES, parseEvents, readRequestBody, splitEvents } from './body.ts';
import { AuditEventInput } from '../event/input.ts';
import type { EventRow } from '../event/model.ts';
import { normalizeEvents, rejection, validateEvents, type RejectedEvent, type RequestContext } from './normalize.ts';
import { problemResponses } from '../openapi.ts';

export const IngestAccepted = z
  .object({
    accepted: z.number().int().openapi({ description: 'Events in the request, all now stored (a repeated id counts; it is stored once)' }),
    ids: z.array(z.string()).openapi({ description: 'Ids of the stored events in request order (generated where the event had none)' }),
    rejected: z.array(z.object({
      index: z.number().int().openapi({ description: 'Position of the event in the request (NDJSON: its non-empty line, from 0)' }),
      field: z.string().optional().openapi({ description: 'JSON path of the first offending field, when one is to blame' }),
      message: z.string(),
    })).optional().openapi({ description: 'Only with partial=true (then always present, possibly empty): one entry per refused event, in request order; accepted + rejected.length = events in the request' }),
  })
  .openapi('IngestAccepted');

const PartialQuery = z.object({
  // As declared (true or false); anything else, an empty value included, is a 400 as on every endpoint.
  partial: z.enum(['true', 'false'], { error: 'must be true or false' }).optional().openapi({
    description: 'true: store the valid events and list the refused ones (202 with rejected[]) instead of refusing the whole request',
  }),
});

/** `partial` as declared: absent, true or false; anything else (empty, repeated) is a 400 like every bad parameter. */
function partialParam(c: Context<AppEnv>): boolean {
  const values = c.req.queries('partial');
  if (values === undefined) return false;
  const parsed = PartialQuery.safeParse({ partial: values.length === 1 ? values[0] : values });
  if (!parsed.success) throw invalidParameters(parsed.error.issues);
  return parsed.data.partial === 'true';
}

/** The client address (X-Forwarded-For only with AUDIT_TRUST_PROXY). */
export function clientIp(c: Context<AppEnv>): string {
  if (c.get('services').config.ingest.trustProxy) {
    const fwd = c.req.header('X-Forwarded-For')?.split(',')[0]?.trim();
    if (fwd) return fwd.slice(0, 64);
  }
  try {
    return getConnInfo(c).remote.address ?? '';
  } catch {
    return ''; // not served by a Node socket (e.g. app.request in tests)
  }
}

/**
 * Writes rows durably (resolves once stored or spooled); a refusal (writer overloaded or closing,
 * spool full, store down) becomes its problem in src/errors.ts, never a silent drop. Every ingest
 * path (native, OTLP) comes through here, so they refuse alike, and the tenant's write budget
 * (AUDIT_WRITE_RATE_LIMIT) is charged here, per event, before anything is written; a write that
 * fails gives it back.
 */
export async function storeRows(c: Context<AppEnv>, rows: EventRow[], minted: boolean[]): Promise<void> {
  const { writer, writeRateLimit } = c.get('services');
  const tenant = c.get('principal').tenantId;
  writeRateLimit.charge(tenant, rows.length);
  try {
    await writer.write(rows, { minted });
  } catch (err) {
    writeRateLimit.refund(tenant, rows.length);
    const refusal = domainProblem(err, 'write');
    if (!refusal) c.get('services').metrics.ingestRejected.inc({ reason: 'store-error' });
    throw refusal ?? err;
  }
  c.get('log').debug({ events: rows.length }, 'events stored');
}

const postRoute = createRoute({
  method: 'post',
  path: '/api/v1/audit/activities',
  tags: ['ingest'],
  summary: 'Post audit events',
  description: 'One event object, a JSON array of events, or NDJSON (one event per line). Answers 202 only once every event is stored durably: in ClickHouse, or (store down or slow) fsynced into the local spool that replays into it in order. 429/503 come with Retry-After; retry with the same ids. Limits: 64 KiB per event, 10,000 events or 10 MiB per request. A request is all-or-nothing unless partial=true: then the valid events are stored and each refused one is listed in rejected[].',
  operationId: 'postActivities',
  security: [{ bearerAuth: [] }],
  middleware: [requireScope('audit:write')] as const,
  request: {
    query: PartialQuery,
    body: {
      required: true,
      content: {
        'application/json': { schema: z.union([AuditEventInput, z.array(AuditEventInput).min(1).max(10_000)]) },
        ...Object.fromEntries(NDJSON_MEDIA_TYPES.map((t) => [t, { schema: z.string().openapi({ description: 'One AuditEventInput JSON object per line' }) }])),
      },
    },
  },
  responses: {
    202: {
      description: 'Stored (with partial=true: the valid events stored, the others in rejected[])',
      content: { 'application/json': { schema: IngestAccepted } },
      // Each of ids[] reads back with getActivity; the first is named here (a link takes one value).
      links: {
        getActivity: {
          operationId: 'getActivity',
          parameters: { id: '$response.body#/ids/0' },
          description: 'Read a stored event back by its id (any entry of ids[], here the first)',
        },
      },
    },
    ...problemResponses(400, 401, 403, 413, 415, 422, 429, 503),
  },
});

export function ingestRoutes() {
  const app = new OpenAPIHono<AppEnv>();
  // The body is read by hand (three shapes, a byte limit enforced while it streams in, errors per
  // event index), so the document gets the route as declared, body included, and the handler is
  // mounted without zod-openapi's validators: the body one would buffer and parse it first, and
  // the query one costs every single-event post a validator middleware for one optional flag
  // (partialParam checks it with the same schema). Measured: issue 17 in BENCHMARKS.md.
  const { middleware: _middleware, ...document } = postRoute;
  app.openAPIRegistry.registerPath(document);

  return app.openapi({ ...postRoute, hide: true, request: {} }, async (c) => {
    try {
      return await accept(c, partialParam(c));
    } catch (err) {
      // Every refusal the handler answers, by its problem code (as audit_ingest_rejected_total counts them).
      if (err instanceof ApiError) c.get('services').metrics.ingestRejected.inc({ reason: err.code });
      throw err;
    }
  });
}

/** The post itself: read and check the events, store them, answer 202 (with partial: the refused ones listed). */
async function accept(c: Context<AppEnv>, partial: boolean) {
  const { redactor, metrics } = c.get('services');
  const format = bodyFormat(c.req.header('Content-Type'));
  const text = await readRequestBody(c.req.raw, c.req.header('Content-Length'));
  // received_at is taken here, after the body is in and right before the rows queue for the
  // writer, so it does not decrease along the order rows are stored in (sinks rely on it).
  const ctx: RequestContext = {
    principal: c.get('principal'),
    ip: clientIp(c),
    userAgent: (c.req.header('User-Agent') ?? '').slice(0, 1024),
    requestId: c.get('requestId'),
    now: Date.now(),
  };
  if (!partial) {
    const { rows, redactions, minted } = normalizeEvents(parseEvents(text, format), ctx, redactor);
    if (redactions > 0) metrics.redactions.inc(redactions);
    await storeRows(c, rows, minted);
    return c.json({ accepted: rows.length, ids: rows.map((r) => r.id) }, 202);
  }
  const body = splitEvents(text, format);
  const checked = validateEvents(body.events, ctx, redactor, new Set(body.problems.keys()));
  if (checked.redactions > 0) metrics.redactions.inc(checked.redactions);
  const rejected: RejectedEvent[] = [...checked.rejected, ...[...body.problems].map(([index, p]) => rejection(index, [p.error]))]
    .sort((a, b) => a.index - b.index);
  if (checked.rows.length > 0) await storeRows(c, checked.rows, checked.minted);
  c.get('log').debug({ events: checked.rows.length, rejected: rejected.length }, 'partial batch');
  return c.json({
    accepted: checked.rows.length,
    ids: checked.rows.map((r) => r.id),
    rejected: rejected.map((r) => ({ index: r.index, ...(r.field ? { field: r.field } : {}), message: r.message })),
  }, 202);
}
