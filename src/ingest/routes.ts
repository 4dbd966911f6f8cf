// POST /api/v1/audit/activities: one event, a JSON array, or NDJSON; 202 only once stored.
import { getConnInfo } from '@hono/node-server/conninfo';
import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { requireScope } from '../auth/middleware.ts';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors.ts';
import { isRetryable } from '../store/errors.ts';
import { bodyFormat, parseEvents, readRequestBody } from './body.ts';
import { AuditEventInput } from './event.ts';
import { normalizeEvents } from './normalize.ts';
import { problemResponses } from '../openapi.ts';
import { SpoolFullError, SpoolTooSmallError, SpoolUnavailableError } from '../spool/errors.ts';
import { WriterClosedError, WriterOverloadedError } from './writer.ts';

export const IngestAccepted = z
  .object({
    accepted: z.number().int().openapi({ description: 'Events in the request, all now stored (a repeated id counts; it is stored once)' }),
    ids: z.array(z.string()).openapi({ description: 'Event ids in request order (generated where the event had none)' }),
  })
  .openapi('IngestAccepted');

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

const RETRY_SAME_IDS = 'Retry later with the same event ids: an event that was stored meanwhile is not stored twice.';

/** The answer for a write that could not be made durable: never a silent drop, always a Retry-After. */
function writeRefusal(err: unknown): ApiError | undefined {
  if (err instanceof WriterOverloadedError) {
    return new ApiError(429, 'overloaded', `Too many events are waiting to be written; this request was not accepted. ${RETRY_SAME_IDS}`, { headers: { 'Retry-After': '1' } });
  }
  if (err instanceof WriterClosedError) {
    return new ApiError(503, 'shutting-down', `This instance is shutting down; this request was not accepted. ${RETRY_SAME_IDS}`, { headers: { 'Retry-After': '1', Connection: 'close' } });
  }
  if (err instanceof SpoolTooSmallError) {
    return new ApiError(413, 'too-large-for-spool', `The audit store is unavailable and this request (${err.bytes} bytes) is larger than the whole local spool (AUDIT_SPOOL_MAX_BYTES=${err.maxBytes}); send it in smaller requests.`);
  }
  if (err instanceof SpoolFullError) {
    return new ApiError(503, 'spool-full', `The audit store is unavailable and the local spool is full; this request was not accepted. ${RETRY_SAME_IDS}`, { headers: { 'Retry-After': '10' } });
  }
  if (err instanceof SpoolUnavailableError) {
    return new ApiError(503, 'spool-unavailable', `The audit store is unavailable and the local spool cannot be written; this request was not accepted. ${RETRY_SAME_IDS}`, { headers: { 'Retry-After': '5' } });
  }
  if (isRetryable(err)) {
    return new ApiError(503, 'store-unavailable', `The audit store is unavailable; this request was not accepted. ${RETRY_SAME_IDS}`, { headers: { 'Retry-After': '5' } });
  }
  return undefined;
}

export function ingestRoutes() {
  const app = new OpenAPIHono<AppEnv>();

  // The body is parsed by hand (three shapes, a streaming byte limit, errors per event index),
  // so the route is registered for the OpenAPI document from the same schemas, not validated by it.
  app.openAPIRegistry.registerPath({
    method: 'post',
    path: '/api/v1/audit/activities',
    tags: ['ingest'],
    summary: 'Post audit events',
    description: 'One event object, a JSON array of events, or NDJSON (one event per line). Answers 202 only once every event is stored durably: in ClickHouse, or (store down or slow) fsynced into the local spool that replays into it in order. 429/503 come with Retry-After; retry with the same ids. Limits: 64 KiB per event, 10,000 events or 10 MiB per request; a request is all-or-nothing.',
    security: [{ bearerAuth: [] }],
    request: {
      body: {
        required: true,
        content: {
          'application/json': { schema: z.union([AuditEventInput, z.array(AuditEventInput).max(10_000)]) },
          'application/x-ndjson': { schema: z.string().openapi({ description: 'One AuditEventInput JSON object per line' }) },
        },
      },
    },
    responses: {
      202: { description: 'Stored', content: { 'application/json': { schema: IngestAccepted } } },
      ...problemResponses(400, 401, 403, 413, 415, 422, 429, 503),
    },
  });

  app.post('/api/v1/audit/activities', requireScope('audit:write'), async (c) => {
    const { writer, redactor, metrics } = c.get('services');
    let format;
    let raw;
    try {
      format = bodyFormat(c.req.header('Content-Type'));
      const text = await readRequestBody(c.req.raw, c.req.header('Content-Length'));
      raw = parseEvents(text, format);
    } catch (err) {
      if (err instanceof ApiError) metrics.ingestRejected.inc({ reason: err.code });
      throw err;
    }
    let normalized;
    try {
      normalized = normalizeEvents(raw, {
        principal: c.get('principal'),
        ip: clientIp(c),
        userAgent: (c.req.header('User-Agent') ?? '').slice(0, 1024),
        requestId: c.get('requestId'),
        now: Date.now(),
      }, redactor);
    } catch (err) {
      if (err instanceof ApiError) metrics.ingestRejected.inc({ reason: err.code });
      throw err;
    }
    const { rows, redactions, minted } = normalized;
    if (redactions > 0) metrics.redactions.inc(redactions);
    try {
      await writer.write(rows, { minted });
    } catch (err) {
      const refusal = writeRefusal(err);
      metrics.ingestRejected.inc({ reason: refusal?.code ?? 'store-error' });
      throw refusal ?? err;
    }
    c.get('log').debug({ events: rows.length }, 'events stored');
    return c.json({ accepted: rows.length, ids: rows.map((r) => r.id) }, 202);
  });

  return app;
}
