// The patterns every path checks event values against: ids, times, activity types, tenant ids.
// One definition each; the OpenAPI document declares these very patterns.
import { z } from '@hono/zod-openapi';

/** A UUID in any case, as callers may write one (event ids, the id path parameter). */
export const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** A UUID in the lowercase form ClickHouse's toString(UUID) writes (cursors we issue, ids read back). */
export const CANONICAL_UUID_RE = new RegExp(UUID_RE.source.replaceAll('A-F', ''));

// ISO-8601 date-time with an explicit zone (Z or ±hh:mm); fractional seconds allowed.
export const ZONED_ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
/** Date.parse rolls 2026-02-31 over to March; a real calendar date must survive the round trip. */
export function isRealIsoDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(s);
  if (!m || Number.isNaN(Date.parse(s))) return false;
  const [y, mo, d, h = '0', mi = '0', sec = '0'] = m.slice(1).map((x) => x ?? '0') as string[];
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  return date.getUTCFullYear() === Number(y) && date.getUTCMonth() === Number(mo) - 1 && date.getUTCDate() === Number(d) &&
    Number(h) < 24 && Number(mi) < 60 && Number(sec) < 60;
}

/** A month partition id of audit_activities (toYYYYMM): 202603. */
export const MONTH_PARTITION_RE = /^\d{6}$/;

/** Dotted lowercase: user.login, file.uploaded (events, query filters, metric label config). */
export const ACTIVITY_TYPE_RE = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
/** The same, without the anchors, to embed in a larger pattern. */
export const ACTIVITY_TYPE_SOURCE = ACTIVITY_TYPE_RE.source.slice(1, -1);
/**
 * The service's own events (audit.accessed, audit.erasure, ...) live under this prefix. No token
 * may post one: a forged audit.accessed would list beside the real ones and verify like them.
 */
export const RESERVED_ACTIVITY_PREFIX = 'audit.';
export const isReservedActivityType = (t: string) => t.startsWith(RESERVED_ACTIVITY_PREFIX);

/**
 * Tenant ids, on every path (events, query parameters, erasure, token claims, the CLI): ASCII
 * letters, digits, ".", "_" and "-", starting with a letter or digit, at most 128 characters.
 * Nothing a SQL string literal, a URL, a Grafana variable or a log line would need to escape:
 * the dashboards' tenant variable filters on this very pattern (scripts/dashboards/kit.ts),
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
// the pattern the OpenAPI document declares; test/api/contract.test.ts checks it against
// isRealIsoDate + Date.parse (which, after a space, also took offsets such as +96:13).
const LEAP_YEAR = '(?:(?:0[1-9]|[1-9]\\d)(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)';
const CALENDAR_DATE = `(?:(?:0[1-9]\\d{2}|[1-9]\\d{3})-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|02-(?:0[1-9]|1\\d|2[0-8]))|${LEAP_YEAR}-02-29)`;
const CLOCK_TIME = '[T ](?:[01]\\d|2[0-3]):[0-5]\\d(?::[0-5]\\d(?:\\.\\d{1,9})?)?(?:Z|[+-](?:[01]\\d|2[0-3]):?[0-5]\\d)?';
export const ISO_INSTANT_RE = new RegExp(`^${CALENDAR_DATE}(?:${CLOCK_TIME})?$`);
/** The same, without the anchors, to embed in a larger pattern. */
export const ISO_INSTANT_SOURCE = `${CALENDAR_DATE}(?:${CLOCK_TIME})?`;
