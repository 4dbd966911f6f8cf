// One OTLP LogRecord → one audit event in the native wire format, validated afterwards by the
// very same code as a native post (src/ingest/normalize.ts). README "OpenTelemetry (OTLP)" has
// the table. Everything not mapped to a field lands in `details`.
//
// Idempotency: a collector retries whole requests, so every record gets a deterministic id:
// `audit.id` when given, else one derived from the tenant and the record's full content
// (resource, scope, record), laid out as a UUIDv7 whose time is the event's own, which keeps the
// writer's id lookup on its time index. A retried record maps to the same id and is stored once.
// Records with no time at all (neither timeUnixNano nor observedTimeUnixNano) are left without
// an id: two such records with equal content may be two real events, never one retried.
import crypto from 'node:crypto';
import type { Severity } from '../event/model.ts';
import { toObject, type JsonValue, type OtlpLogRecord, type OtlpResourceLogs, type OtlpScopeLogs } from './model.ts';

/** Attributes that fill event fields (removed from details). */
export const MAPPED_ATTRIBUTES = {
  'event.name': 'activity_type',
  'audit.id': 'id',
  'audit.action': 'action',
  'user.id': 'user_id',
  'audit.resource.type': 'resource_type',
  'audit.resource.id': 'resource_id',
  'audit.outcome': 'outcome',
  'audit.severity': 'severity',
  'client.address': 'ip_address',
  'user_agent.original': 'user_agent',
} as const;

/** Where an event field came from, for error messages a sender can act on. */
const SOURCE: Record<string, string> = {
  ...Object.fromEntries(Object.entries(MAPPED_ATTRIBUTES).map(([attr, field]) => [field, `attribute ${attr}`])),
  activity_type: 'eventName or attribute event.name',
  description: 'body',
  timestamp: 'timeUnixNano',
};
/** "attribute user.id (user_id)": what the sender set, and the event field it filled (the one the native API would name). */
export const sourceOf = (field: string | undefined) => {
  if (!field) return 'record';
  const source = SOURCE[field.split('.')[0]!];
  return source ? `${source} (${field})` : field;
};

/** OTel severity numbers: 1–12 TRACE..INFO, 13–16 WARN, 17–20 ERROR, 21–24 FATAL. */
export function severityFromNumber(n: number): Severity {
  if (n >= 21) return 'CRITICAL';
  if (n >= 17) return 'HIGH';
  if (n >= 13) return 'MEDIUM';
  return 'LOW';
}

const NS_PER_MS = 1_000_000n;
/** Epoch ms of a nanosecond timestamp, or undefined when unset (0). */
function epochMs(ns: string): number | undefined {
  const n = BigInt(ns);
  return n === 0n ? undefined : Number(n / NS_PER_MS);
}

const text = (v: JsonValue | undefined) => (v === undefined || v === null ? undefined : typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** Canonical JSON: object keys sorted, so equal content hashes equal whatever the key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** A UUIDv7-shaped id: 48 bits of the event's ms, then 74 bits of a SHA-256 over tenant and content. */
export function derivedId(tenant: string, content: unknown, ms: number): string {
  const b = crypto.createHash('sha256').update('audithouse.otlp.v1\0').update(tenant).update('\0').update(canonical(content)).digest().subarray(0, 16);
  const t = Math.max(0, Math.trunc(ms));
  b[0] = Math.floor(t / 2 ** 40) & 0xff;
  b[1] = Math.floor(t / 2 ** 32) & 0xff;
  b.writeUInt32BE(t >>> 0, 2);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** One record with where it sits in the request (for partialSuccess messages). */
export interface LocatedRecord {
  record: OtlpLogRecord;
  resource: OtlpResourceLogs;
  scope: OtlpScopeLogs;
  path: string;
}

export function* records(resourceLogs: readonly OtlpResourceLogs[]): Generator<LocatedRecord> {
  for (const [r, resource] of resourceLogs.entries()) {
    for (const [s, scope] of resource.scopeLogs.entries()) {
      for (const [l, record] of scope.logRecords.entries()) {
        yield { record, resource, scope, path: `resourceLogs[${r}].scopeLogs[${s}].logRecords[${l}]` };
      }
    }
  }
}

/** The native wire event for a record; validation (required fields, formats, limits) comes after. */
export function toWireEvent(rec: LocatedRecord, tenant: string): Record<string, unknown> {
  const { record } = rec;
  const attrs = toObject(record.attributes);
  const mapped = (attr: keyof typeof MAPPED_ATTRIBUTES) => text(attrs[attr]);
  const event: Record<string, unknown> = {};
  const set = (field: string, value: string | undefined) => {
    if (value !== undefined) event[field] = value;
  };
  set('activity_type', record.eventName || mapped('event.name'));
  set('action', mapped('audit.action'));
  set('user_id', mapped('user.id'));
  set('resource_type', mapped('audit.resource.type'));
  set('resource_id', mapped('audit.resource.id'));
  set('outcome', mapped('audit.outcome')?.toLowerCase());
  set('severity', mapped('audit.severity')?.toUpperCase() ?? severityFromNumber(record.severityNumber));
  set('ip_address', mapped('client.address'));
  set('user_agent', mapped('user_agent.original'));
  if (typeof record.body === 'string') set('description', record.body);

  const ms = epochMs(record.timeUnixNano) ?? epochMs(record.observedTimeUnixNano);
  if (ms !== undefined) event.timestamp = new Date(ms).toISOString();

  // Resource attributes first, so a record attribute of the same name wins.
  const details: Record<string, JsonValue> = { ...toObject(rec.resource.resource) };
  for (const [key, value] of record.attributes) if (!(key in MAPPED_ATTRIBUTES)) details[key] = value;
  if (record.body !== undefined && typeof record.body !== 'string') details.body = record.body;
  if (record.severityText) details.severity_text = record.severityText;
  if (record.traceId) details.trace_id = record.traceId;
  if (record.spanId) details.span_id = record.spanId;
  if (rec.scope.scope.name) details['otel.scope.name'] = rec.scope.scope.name;
  if (rec.scope.scope.version) details['otel.scope.version'] = rec.scope.scope.version;
  if (Object.keys(details).length > 0) event.details = details;

  const given = mapped('audit.id');
  if (given !== undefined) event.id = given;
  else if (ms !== undefined) {
    event.id = derivedId(tenant, { resource: rec.resource.resource, scope: rec.scope.scope, record }, ms);
  }
  return event;
}
