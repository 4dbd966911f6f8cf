// The audit event on the wire (contract: snake_case fields) and its stored form.
// The zod schema is the single source of the validator, the TypeScript type and the OpenAPI doc.
import { z } from '@hono/zod-openapi';
import { severities } from '../config.ts';
import { credentialIn } from './credentials.ts';

export const MAX_EVENT_BYTES = 64 * 1024;
export const MAX_BATCH_EVENTS = 10_000;
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;
/** Events more than this far in the future are refused (clock skew allowance). */
export const MAX_FUTURE_MS = 5 * 60 * 1000;
/** DateTime64 and TTL arithmetic start at the Unix epoch; older timestamps are refused. */
export const MIN_TIMESTAMP_MS = 0;

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
// ISO-8601 date-time with an explicit zone (Z or ±hh:mm); fractional seconds allowed.
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
/** Date.parse rolls 2026-02-31 over to March; a real calendar date must survive the round trip. */
export function isRealIsoDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(s);
  if (!m || Number.isNaN(Date.parse(s))) return false;
  const [y, mo, d, h = '0', mi = '0', sec = '0'] = m.slice(1).map((x) => x ?? '0') as string[];
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  return date.getUTCFullYear() === Number(y) && date.getUTCMonth() === Number(mo) - 1 && date.getUTCDate() === Number(d) &&
    Number(h) < 24 && Number(mi) < 60 && Number(sec) < 60;
}

export const ACTIVITY_TYPE_RE = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
/**
 * The service's own events (audit.accessed, audit.erasure, ...) live under this prefix. No token
 * may post one: a forged audit.accessed would list beside the real ones and verify like them.
 */
export const RESERVED_ACTIVITY_PREFIX = 'audit.';
export const isReservedActivityType = (t: string) => t.startsWith(RESERVED_ACTIVITY_PREFIX);
const RESERVED_MESSAGE = `is in the reserved "${RESERVED_ACTIVITY_PREFIX}" namespace: only the service records audit.* events (audit.accessed, audit.erasure, ...)`;

/**
 * Tenant ids, on every path (events, query parameters, erasure, token claims, the CLI): ASCII
 * letters, digits, ".", "_" and "-", starting with a letter or digit, at most 128 characters.
 * Nothing a SQL string literal, a URL, a Grafana variable or a log line would need to escape:
 * the dashboards' tenant variable filters on this very pattern (src/analytics/dashboards/kit.ts),
 * because the Grafana ClickHouse plugin does not escape multi-value variables.
 */
export const TENANT_ID_MAX = 128;
export const TENANT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const TENANT_ID_RULE = `1 to ${TENANT_ID_MAX} characters: ASCII letters, digits, ".", "_" or "-", starting with a letter or digit`;
export const TenantIdSchema = z.string()
  // abort: one clear message per bad id, not "too long" and "bad characters" for the same one.
  .min(1, { message: 'must not be empty', abort: true })
  .max(TENANT_ID_MAX, { message: `must be at most ${TENANT_ID_MAX} characters`, abort: true })
  .regex(TENANT_ID_RE, `must be ${TENANT_ID_RULE}`)
  .openapi({ example: 'acme' });
/** Why a tenant id is unusable (for the callers outside zod: token claims, the CLI), or undefined. */
export function tenantIdProblem(v: unknown): string | undefined {
  const r = TenantIdSchema.safeParse(v);
  return r.success ? undefined : r.error.issues[0]?.message ?? 'is invalid';
}

// An ISO-8601 date, or date and time (T or space; seconds, fraction and zone optional; no zone: UTC),
// with real calendar dates only (Feb 29 in leap years; years 0100-9999, as Date.UTC reads 00-99 as
// 19xx) and zone offsets within ±23:59. The exact set the query parameters accept, so it is also
// the pattern the OpenAPI document declares; test/contract.test.ts checks it against
// isRealIsoDate + Date.parse (which, after a space, also took offsets such as +96:13).
const LEAP_YEAR = '(?:(?:0[1-9]|[1-9]\\d)(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)';
const CALENDAR_DATE = `(?:(?:0[1-9]\\d{2}|[1-9]\\d{3})-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|02-(?:0[1-9]|1\\d|2[0-8]))|${LEAP_YEAR}-02-29)`;
const CLOCK_TIME = '[T ](?:[01]\\d|2[0-3]):[0-5]\\d(?::[0-5]\\d(?:\\.\\d{1,9})?)?(?:Z|[+-](?:[01]\\d|2[0-3]):?[0-5]\\d)?';
export const ISO_INSTANT_RE = new RegExp(`^${CALENDAR_DATE}(?:${CLOCK_TIME})?$`);
/** The same, without the anchors, to embed in a larger pattern. */
export const ISO_INSTANT_SOURCE = `${CALENDAR_DATE}(?:${CLOCK_TIME})?`;

// No NUL or other C0 control characters (tab, LF, CR allowed in free text only).
const noControl = (s: string) => !/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/.test(s);
// Bidirectional overrides and isolates (Trojan-Source style spoofing in tables and CSV).
const BIDI_RE = /[\u202A-\u202E\u2066-\u2069]/;
const label = (max: number) =>
  z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`)
    .refine((s) => noControl(s) && !/[\r\n\t]/.test(s), 'must not contain control characters')
    .refine((s) => !BIDI_RE.test(s), 'must not contain bidirectional override characters');

/**
 * An identifier (user, resource, address, user agent) holding a credential or a card number is
 * refused, not redacted: "[REDACTED]" would no longer identify anything, and ids are what
 * dashboards group by and erasure looks up.
 */
const identifier = (max: number) => label(max).superRefine((v, ctx) => {
  const found = credentialIn(v);
  if (found) ctx.addIssue({ code: 'custom', message: `holds ${found}; identifiers must not carry secrets (the value is refused, not stored redacted)` });
});

export const SeveritySchema = z.enum(severities as [string, ...string[]]).openapi({ example: 'LOW' });
export const OutcomeSchema = z.enum(['success', 'failure']);

/** The event object; `reserved`: whether the service's own audit.* namespace is allowed. */
function eventInput(reserved: boolean) {
  let activityType = z.string().max(128, 'must be at most 128 characters')
    .regex(ACTIVITY_TYPE_RE, 'must be dotted lowercase, e.g. user.login');
  if (!reserved) activityType = activityType.refine((t) => !isReservedActivityType(t), RESERVED_MESSAGE);
  return z.strictObject({
    id: z.string().regex(UUID_RE, 'must be a UUID').optional()
      .openapi({ description: 'Idempotency key: the same id posted twice is stored once', example: '0192f0c1-6c2e-7cc0-8a1e-3f5b1d2c4e5f' }),
    timestamp: z.string().regex(ISO_RE, 'must be an ISO-8601 date-time with a zone, e.g. 2026-01-31T12:00:00.000Z')
      .refine(isRealIsoDate, 'is not a valid calendar date and time')
      .optional()
      .openapi({ description: 'When it happened (UTC, millisecond precision); not before 1970, at most 5 minutes ahead. Default: receipt time.', format: 'date-time' }),
    activity_type: activityType.openapi({
      example: 'file.uploaded',
      description: `Dotted lowercase. The "${RESERVED_ACTIVITY_PREFIX}" namespace belongs to the service and is refused (422).`,
      pattern: `^(?!audit\\.)${ACTIVITY_TYPE_RE.source.slice(1)}`,
    }),
    severity: SeveritySchema.default('LOW'),
    action: label(128).openapi({ example: 'file_upload' }),
    description: z.string().max(16_384, 'must be at most 16384 characters')
      .refine(noControl, 'must not contain control characters other than tab and newline').optional(),
    outcome: OutcomeSchema.default('success'),
    user_id: identifier(256).optional().openapi({ description: "Default: the token's sub. A value holding a credential or card number is refused." }),
    tenant_id: TenantIdSchema.optional().openapi({ description: `Default: the token's tenant_id; only audit:admin may name another. ${TENANT_ID_RULE}.` }),
    resource_type: label(128).optional(),
    resource_id: identifier(512).optional().openapi({ description: 'A value holding a credential or card number is refused.' }),
    ip_address: identifier(64).optional().openapi({ description: 'Default: the client address of the HTTP request' }),
    user_agent: identifier(1024).optional().openapi({ description: 'Default: the User-Agent of the HTTP request' }),
    request_id: label(128).optional().openapi({ description: 'Default: the X-Request-Id of the HTTP request' }),
    details: z.record(z.string(), z.unknown()).optional()
      .openapi({ description: 'Free-form JSON object; sensitive keys are redacted before storage', example: { filename: 'q3.pdf', size: 52133 } }),
  });
}

/** An event as a caller posts it (every external ingest path): audit.* refused. */
export const AuditEventInput = eventInput(false).openapi('AuditEventInput');
/**
 * The service's own events (the access log's audit.accessed): the same rules, the reserved
 * namespace allowed. Never wired to a request body.
 */
export const ServiceEventInput = eventInput(true);

export type AuditEventInput = z.infer<typeof AuditEventInput>;

/** The stored event, as the query API returns it. */
export const AuditEvent = z
  .object({
    id: z.string(),
    timestamp: z.string().openapi({ example: '2026-01-31T12:00:00.000Z', format: 'date-time' }),
    received_at: z.string().openapi({ format: 'date-time' }),
    activity_type: z.string(),
    severity: SeveritySchema,
    action: z.string(),
    description: z.string(),
    outcome: OutcomeSchema,
    user_id: z.string(),
    tenant_id: TenantIdSchema,
    resource_type: z.string(),
    resource_id: z.string(),
    ip_address: z.string(),
    user_agent: z.string(),
    request_id: z.string(),
    details: z.record(z.string(), z.unknown()),
  })
  .openapi('AuditEvent');

export type AuditEvent = z.infer<typeof AuditEvent>;

/** Column order of audit_activities inserts (JSONCompactEachRow). */
export const EVENT_COLUMNS = [
  'id', 'tenant_id', 'timestamp', 'received_at', 'activity_type', 'severity', 'action', 'outcome',
  'resource_type', 'user_agent', 'user_id', 'resource_id', 'ip_address', 'request_id', 'description', 'details',
] as const;

/** A validated, defaulted event ready to store; times are epoch milliseconds. */
export interface EventRow {
  id: string;
  tenant_id: string;
  timestamp: number;
  received_at: number;
  activity_type: string;
  severity: string;
  action: string;
  outcome: string;
  resource_type: string;
  user_agent: string;
  user_id: string;
  resource_id: string;
  ip_address: string;
  request_id: string;
  description: string;
  /** JSON text of the (redacted) details object. */
  details: string;
}

/** ClickHouse DateTime64(3) literal for JSON input: seconds with millisecond fraction. */
/**
 * ClickHouse DateTime64(3) text for JSON input: 'YYYY-MM-DD hh:mm:ss.mmm' (UTC). Not epoch
 * seconds: ClickHouse reads a short number (any time before 1973-03-03) as a packed date.
 */
export const toChTime = (ms: number) => {
  const iso = new Date(ms).toISOString(); // 2026-01-31T12:00:00.000Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
};

export function rowValues(r: EventRow): unknown[] {
  return [
    r.id, r.tenant_id, toChTime(r.timestamp), toChTime(r.received_at), r.activity_type, r.severity, r.action,
    r.outcome, r.resource_type, r.user_agent, r.user_id, r.resource_id, r.ip_address, r.request_id,
    r.description, r.details,
  ];
}
