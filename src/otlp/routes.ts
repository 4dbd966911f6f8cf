// POST /v1/logs: OTLP/HTTP logs (the path an OpenTelemetry Collector `otlphttp` exporter and the
// SDK exporters post to), JSON or protobuf, gzip or not. Same token, scope, validation,
// redaction and durability as the native API; answers per the OTLP spec: 200 with an
// ExportLogsServiceResponse (partialSuccess for the records refused, the others stored), in the
// request's encoding; errors as google.rpc.Status; 429/503 with Retry-After, which the
// exporters honour and retry (records keep their ids, so a retry stores nothing twice).
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../env.ts';
import { toApiError } from '../errors.ts';
import { ApiError, problem } from '../problems.ts';
import { decodeUtf8, inspectRaw, readRequestBytes } from '../ingest/body.ts';
import { MAX_BATCH_EVENTS, MAX_EVENT_BYTES, MAX_REQUEST_BYTES } from '../event/limits.ts';
import { rejection, validateEvents, type RejectedEvent } from '../ingest/normalize.ts';
import { storeRows } from '../ingest/routes.ts';
import { decodeJsonRequest } from './json.ts';
import { records, sourceOf, toWireEvent } from './mapping.ts';
import { countRecords } from './model.ts';
import { OTLP_LOGS_PATH, otlpLogsRoute } from './openapi.ts';
import { encodeProtobufResponse, encodeProtobufStatus, decodeProtobufRequest } from './protobuf.ts';

export { OTLP_LOGS_PATH };
const PROTOBUF = 'application/x-protobuf';

type Encoding = 'json' | 'protobuf';

function encodingOf(contentType: string | undefined): Encoding {
  const mime = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (mime === 'application/json') return 'json';
  if (mime === PROTOBUF || mime === 'application/protobuf') return 'protobuf';
  throw problem('unsupported-media-type', `OTLP/HTTP takes application/x-protobuf or application/json; got ${mime ? `"${mime}"` : 'none'}.`);
}

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

/** Decompresses within the request limit: a small compressed body may not expand past 10 MiB. */
async function decompress(body: Uint8Array, contentEncoding: string | undefined): Promise<Uint8Array> {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity' || encoding === '') return body;
  const inflater = encoding === 'gzip' || encoding === 'x-gzip' ? gunzip : encoding === 'deflate' ? inflate : undefined;
  if (!inflater) throw problem('unsupported-encoding', `Content-Encoding "${encoding}" is not supported; send gzip, deflate or none.`);
  try {
    return await inflater(body, { maxOutputLength: MAX_REQUEST_BYTES });
  } catch (err) {
    if (err instanceof RangeError || (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw problem('payload-too-large', `The decompressed body exceeds the limit of ${MAX_REQUEST_BYTES} bytes (10 MiB) per request.`);
    }
    throw problem('invalid-encoding', `The body is not valid ${encoding} data.`);
  }
}

/** google.rpc.Code for our statuses (OTLP clients key on the HTTP status; the code is for humans). */
const RPC_CODE: Record<number, number> = { 400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 413: 8, 415: 3, 429: 8, 500: 13, 501: 12, 503: 14 };

/** An error as OTLP/HTTP wants it: a Status in the request's encoding, Retry-After kept. */
function otlpError(err: unknown, c: Context<AppEnv>): Response {
  // The same problem as on every route (unexpected errors logged as there), in OTLP's shape.
  const { status, message, headers: problemHeaders } = toApiError(err, c);
  const headers: Record<string, string> = { ...problemHeaders };
  const code = RPC_CODE[status] ?? 2;
  let protobuf = false;
  try {
    protobuf = encodingOf(c.req.header('Content-Type')) === 'protobuf';
  } catch {
    // unknown media type: answer in JSON
  }
  headers['Content-Type'] = protobuf ? PROTOBUF : 'application/json';
  const body = protobuf ? encodeProtobufStatus(code, message) : JSON.stringify({ code, message });
  return new Response(body, { status, headers });
}

/** At most this many refused records are described in errorMessage (the count covers all). */
const DESCRIBED = 5;

function partialMessage(rejected: RejectedEvent[], paths: string[], total: number): string {
  const described = rejected.slice(0, DESCRIBED).map((r) => `${paths[r.index]}: ${sourceOf(r.field)} ${r.message}`);
  const more = rejected.length > DESCRIBED ? `; and ${rejected.length - DESCRIBED} more` : '';
  return `${rejected.length} of ${total} log record(s) refused, the others stored: ${described.join('; ')}${more}`;
}

export function otlpRoutes() {
  const app = new OpenAPIHono<AppEnv>();
  app.onError(otlpError);
  // The document gets the route as declared, body included; the handler reads the body itself.
  const { middleware: _middleware, ...document } = otlpLogsRoute;
  app.openAPIRegistry.registerPath(document);

  app.openapi({ ...otlpLogsRoute, hide: true, request: {} }, async (c) => {
    const { redactor, metrics } = c.get('services');
    try {
      const encoding = encodingOf(c.req.header('Content-Type'));
      const raw = await readRequestBytes(c.req.raw, c.req.header('Content-Length'));
      const body = await decompress(raw, c.req.header('Content-Encoding'));
      const resourceLogs = encoding === 'protobuf' ? decodeProtobufRequest(body) : decodeJsonRequest(decodeUtf8(body));
      const total = countRecords(resourceLogs);
      if (total > MAX_BATCH_EVENTS) {
        throw problem('payload-too-large', `The request holds ${total} log records; the limit is ${MAX_BATCH_EVENTS} per request.`);
      }

      const tenant = c.get('principal').tenantId;
      const events: unknown[] = [];
      const paths: string[] = [];
      const early = new Map<number, RejectedEvent>();
      for (const rec of records(resourceLogs)) {
        const index = events.length;
        const event = toWireEvent(rec, tenant);
        events.push(event);
        paths.push(rec.path);
        const problem = inspectRaw(event);
        if (problem) early.set(index, rejection(index, [problem]));
        else if (Buffer.byteLength(JSON.stringify(event)) > MAX_EVENT_BYTES) {
          early.set(index, rejection(index, [{ message: `is over the limit of ${MAX_EVENT_BYTES} bytes (64 KiB) per event` }]));
        }
      }
      // The collector's address says nothing about who acted: no ip/user agent defaults from the request.
      const checked = validateEvents(events, { principal: c.get('principal'), ip: '', userAgent: '', requestId: c.get('requestId'), now: Date.now() }, redactor, new Set(early.keys()));
      if (checked.redactions > 0) metrics.redactions.inc(checked.redactions);
      if (checked.rows.length > 0) await storeRows(c, checked.rows, checked.minted);

      const rejected = [...checked.rejected, ...early.values()].sort((a, b) => a.index - b.index);
      const partial = rejected.length > 0 ? { rejectedLogRecords: rejected.length, errorMessage: partialMessage(rejected, paths, total) } : undefined;
      if (partial) c.get('log').info({ records: total, rejected: rejected.length }, 'OTLP log records refused');
      if (encoding === 'protobuf') {
        return c.body(encodeProtobufResponse(partial) as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': PROTOBUF });
      }
      // proto3 JSON writes int64 as a decimal string.
      return c.json(partial ? { partialSuccess: { rejectedLogRecords: String(partial.rejectedLogRecords), errorMessage: partial.errorMessage } } : {}, 200);
    } catch (err) {
      if (err instanceof ApiError) metrics.ingestRejected.inc({ reason: err.code });
      throw err;
    }
  });
  return app;
}
