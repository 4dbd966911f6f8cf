// The route of POST /v1/logs, as the OpenAPI document describes it. The body is decoded by hand
// (two encodings, compression, a byte limit while it streams in), so src/otlp/routes.ts mounts
// the handler without zod-openapi's body validator, like the native ingest route.
import { createRoute, z } from '@hono/zod-openapi';
import { authenticate, requireScope } from '../auth/middleware.ts';

// The patterns are those src/otlp/json.ts enforces (proto3 JSON: 64-bit integers as decimal text).
const uint64 = z.union([z.string().regex(/^\d{1,20}$/), z.number().int().nonnegative()])
  .openapi({ description: 'Unsigned 64-bit integer: decimal text, or a JSON number', example: '1767225600000000000' });

const AnyValue = z.object({
  stringValue: z.string().optional(),
  boolValue: z.boolean().optional(),
  intValue: z.union([z.string().regex(/^-?\d{1,20}$/), z.number().int()]).optional().openapi({ description: 'int64: decimal text, or a JSON number' }),
  doubleValue: z.number().optional(),
  bytesValue: z.string().optional().openapi({ description: 'base64' }),
  arrayValue: z.object({ values: z.array(z.record(z.string(), z.unknown())).optional().openapi({ description: 'AnyValues' }) }).optional(),
  kvlistValue: z.object({ values: z.array(z.record(z.string(), z.unknown())).optional().openapi({ description: 'KeyValues' }) }).optional(),
}).openapi('OtlpAnyValue', { description: 'One of its fields set' });

// proto3: every field is optional; a request with nothing in it is valid (and stores nothing).
const KeyValue = z.object({ key: z.string().optional(), value: AnyValue.optional() });

const LogRecord = z.object({
  timeUnixNano: uint64.optional().openapi({ description: 'Event time → timestamp (else observedTimeUnixNano, else receipt time)' }),
  observedTimeUnixNano: uint64.optional(),
  severityNumber: z.union([z.number().int(), z.string().regex(/^\d+$/)]).optional().openapi({ description: 'Without attribute audit.severity: ≤12 LOW, 13–16 MEDIUM, 17–20 HIGH, ≥21 CRITICAL' }),
  severityText: z.string().optional(),
  eventName: z.string().optional().openapi({ description: 'activity_type (else attribute event.name)', example: 'user.login' }),
  body: AnyValue.optional().openapi({ description: 'A string body → description; any other body → details.body' }),
  attributes: z.array(KeyValue).optional().openapi({ description: 'audit.action, user.id, audit.resource.type, audit.resource.id, audit.outcome, audit.severity, client.address, user_agent.original, audit.id fill event fields; the rest → details' }),
  traceId: z.string().regex(/^([0-9a-fA-F]{32})?$/).optional().openapi({ description: '16 bytes in hex' }),
  spanId: z.string().regex(/^([0-9a-fA-F]{16})?$/).optional().openapi({ description: '8 bytes in hex' }),
});

const ExportLogsServiceRequest = z.object({
  resourceLogs: z.array(z.object({
    resource: z.object({ attributes: z.array(KeyValue).optional() }).optional().openapi({ description: 'Resource attributes (service.name, …) → details' }),
    scopeLogs: z.array(z.object({
      scope: z.object({ name: z.string().optional(), version: z.string().optional() }).optional(),
      logRecords: z.array(LogRecord).optional(),
    })).optional(),
  })).optional(),
}).openapi('OtlpExportLogsServiceRequest', { description: 'OTLP/JSON ExportLogsServiceRequest (opentelemetry-proto collector/logs/v1)' });

const ExportLogsServiceResponse = z.object({
  partialSuccess: z.object({
    rejectedLogRecords: z.string().openapi({ description: 'Records refused (int64 as a decimal string, per proto3 JSON)', example: '1' }),
    errorMessage: z.string().openapi({ description: 'Which records were refused and why (the first few)' }),
  }).optional().openapi({ description: 'Present only when records were refused; the other records are stored' }),
}).openapi('OtlpExportLogsServiceResponse');

const Status = z.object({
  code: z.number().int().openapi({ description: 'google.rpc.Code (informative; clients act on the HTTP status)', example: 3 }),
  message: z.string(),
}).openapi('OtlpStatus', { description: 'google.rpc.Status, as OTLP/HTTP answers errors' });

const binary = z.string().openapi({ format: 'binary' });

const errors = (entries: Array<[number, string]>) =>
  Object.fromEntries(entries.map(([status, description]) => [status, {
    description,
    content: { 'application/json': { schema: Status }, 'application/x-protobuf': { schema: binary.openapi({ description: 'Protobuf google.rpc.Status' }) } },
  }]));

export const OTLP_LOGS_PATH = '/v1/logs';

export const otlpLogsRoute = createRoute({
  method: 'post',
  path: OTLP_LOGS_PATH,
  operationId: 'postOtlpLogs',
  tags: ['ingest'],
  summary: 'Post OTLP/HTTP logs',
  description: 'OpenTelemetry Protocol logs (what an OTel Collector `otlphttp` exporter or an SDK log exporter sends), protobuf or JSON, optionally gzip/deflate (Content-Encoding). Each LogRecord becomes an audit event (mapping in the README), validated and redacted like a native event. 200 only once the stored records are durable; records that fail validation are refused on their own and counted in partialSuccess. Answers use the request\'s encoding. A retried request stores nothing twice: each record\'s id is audit.id or derived from the tenant and the record\'s content.',
  security: [{ bearerAuth: [] }],
  // Outside /api, so not under the app's authenticate: the route takes the same token itself.
  middleware: [authenticate, requireScope('audit:write')] as const,
  request: {
    body: {
      required: true,
      content: {
        'application/x-protobuf': { schema: binary.openapi({ description: 'Protobuf ExportLogsServiceRequest' }) },
        'application/json': { schema: ExportLogsServiceRequest },
      },
    },
  },
  responses: {
    200: {
      description: 'Stored (all records, or all but those counted in partialSuccess)',
      content: { 'application/json': { schema: ExportLogsServiceResponse }, 'application/x-protobuf': { schema: binary.openapi({ description: 'Protobuf ExportLogsServiceResponse' }) } },
    },
    ...errors([
      [400, 'Not an OTLP logs request (bad JSON/protobuf, bad compression); not retryable'],
      [401, 'Missing, invalid or expired bearer token'],
      [403, 'The token lacks the audit:write scope'],
      [413, 'Over 10 MiB (decompressed) or 10,000 records per request'],
      [415, 'Unsupported Content-Type or Content-Encoding'],
      [429, 'Overloaded; retryable, see Retry-After'],
      [500, 'Unexpected error (logged with the request id)'],
      [503, 'Store unavailable or shutting down; retryable, see Retry-After'],
    ]),
  },
});
