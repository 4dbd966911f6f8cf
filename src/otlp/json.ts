// OTLP/HTTP JSON: the proto3 JSON mapping with OTLP's deviations (lowerCamelCase keys only,
// trace and span ids as hex, enums as integers, 64-bit integers as decimal strings or numbers;
// unknown fields are ignored, as receivers must). Validated with zod into the shared model.
import { z } from 'zod';
import { problem } from '../problems.ts';
import { anyValue, attributes, type AnyValueInput, type KeyValueInput, type OtlpResourceLogs } from './model.ts';

const int64 = z.union([z.string().regex(/^-?\d{1,20}$/, 'must be a 64-bit integer'), z.number().int()]);
const uint64 = z.union([z.string().regex(/^\d{1,20}$/, 'must be an unsigned 64-bit integer'), z.number().int().nonnegative()]);
const hexId = (bytes: number) =>
  z.string().regex(new RegExp(`^([0-9a-fA-F]{${bytes * 2}})?$`), `must be ${bytes} bytes in hex`).optional();

const AnyValue: z.ZodType<AnyValueInput> = z.lazy(() =>
  z.object({
    stringValue: z.string().optional(),
    boolValue: z.boolean().optional(),
    intValue: int64.optional(),
    doubleValue: z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])]).optional(),
    arrayValue: z.object({ values: z.array(AnyValue).optional() }).optional(),
    kvlistValue: z.object({ values: z.array(KeyValue).optional() }).optional(),
    bytesValue: z.string().optional(),
  }),
);
const KeyValue: z.ZodType<KeyValueInput> = z.lazy(() => z.object({ key: z.string().optional(), value: AnyValue.optional() }));
const KeyValues = z.array(KeyValue).optional();

const LogRecord = z.object({
  timeUnixNano: uint64.optional(),
  observedTimeUnixNano: uint64.optional(),
  severityNumber: z.union([z.number().int(), z.string().regex(/^\d+$/)]).optional(),
  severityText: z.string().optional(),
  body: AnyValue.optional(),
  attributes: KeyValues,
  eventName: z.string().optional(),
  traceId: hexId(16),
  spanId: hexId(8),
  flags: z.number().int().optional(),
});

const ExportLogsServiceRequest = z.object({
  resourceLogs: z.array(z.object({
    resource: z.object({ attributes: KeyValues }).optional(),
    scopeLogs: z.array(z.object({
      scope: z.object({ name: z.string().optional(), version: z.string().optional(), attributes: KeyValues }).optional(),
      logRecords: z.array(LogRecord).optional(),
    })).optional(),
  })).optional(),
});

/** Parses and checks an OTLP/JSON ExportLogsServiceRequest; malformed data is a permanent 400. */
export function decodeJsonRequest(text: string): OtlpResourceLogs[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw problem('invalid-json', `The body is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = ExportLogsServiceRequest.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw problem('invalid-otlp', `The body is not an OTLP/JSON ExportLogsServiceRequest: ${issue.path.join('.')}: ${issue.message}`);
  }
  return (parsed.data.resourceLogs ?? []).map((r) => ({
    resource: attributes(r.resource?.attributes),
    scopeLogs: (r.scopeLogs ?? []).map((s) => ({
      scope: { name: s.scope?.name ?? '', version: s.scope?.version ?? '', attributes: attributes(s.scope?.attributes) },
      logRecords: (s.logRecords ?? []).map((l) => ({
        timeUnixNano: String(l.timeUnixNano ?? '0'),
        observedTimeUnixNano: String(l.observedTimeUnixNano ?? '0'),
        severityNumber: Number(l.severityNumber ?? 0),
        severityText: l.severityText ?? '',
        body: l.body === undefined ? undefined : anyValue(l.body),
        attributes: attributes(l.attributes),
        eventName: l.eventName ?? '',
        traceId: (l.traceId ?? '').toLowerCase(),
        spanId: (l.spanId ?? '').toLowerCase(),
        flags: l.flags ?? 0,
      })),
    })),
  }));
}
