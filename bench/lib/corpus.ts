// The benchmark corpus: what a multi-tenant SaaS's audit trail looks like. One description of
// the distributions, used twice: by the JS generator below (events posted over HTTP and inserted
// raw) and by the SQL generator in dataset.ts (millions of rows via INSERT ... SELECT FROM numbers()).
//
// - tenants: 1,000, zipf-like (log-uniform rank): the biggest holds ~10% of all events;
// - users: per tenant, more in big tenants (5,000 in the biggest), again zipf-like;
// - activity types: 26, skewed (logins and API calls dominate, security alerts are rare),
//   each with its action, resource type, usual severity, failure rate, description template and
//   `details` shape;
// - severity: mostly the type's own, sometimes escalated (2% MEDIUM, 0.5% HIGH, 0.1% CRITICAL);
// - time: for a history (the query data sets), uniform over the last 90 days, received 50–550 ms
//   after it happened; for live traffic (what ingest sees), within the last minute, 1% of events
//   delivered late by up to 3 days (retries, offline clients);
// - ids: UUIDv7 of the event time (what the service generates); request ids random per event.
import crypto from 'node:crypto';
import type { AuditEvent, Severity } from '../../src/event/model.ts';

export interface ActivityTypeSpec {
  type: string;
  action: string;
  resource: string;
  weight: number;
  severity: Severity;
  /** Probability of outcome=failure. */
  failure: number;
  /** {user}, {resource} and {ip} are replaced. */
  template: string;
  details: 'login' | 'api' | 'file' | 'doc' | 'role' | 'billing' | 'none';
}

export const ACTIVITY_TYPES: ActivityTypeSpec[] = [
  { type: 'user.login', action: 'login', resource: 'session', weight: 25, severity: 'LOW', failure: 0.01, template: 'User {user} signed in from {ip}', details: 'login' },
  { type: 'user.logout', action: 'logout', resource: 'session', weight: 8, severity: 'LOW', failure: 0, template: 'User {user} signed out', details: 'none' },
  { type: 'user.login_failed', action: 'login', resource: 'session', weight: 3, severity: 'MEDIUM', failure: 1, template: 'Failed sign-in for {user} from {ip}: wrong password', details: 'login' },
  { type: 'api.request', action: 'api_call', resource: 'api', weight: 20, severity: 'LOW', failure: 0.03, template: 'API call to {resource}', details: 'api' },
  { type: 'file.uploaded', action: 'file_upload', resource: 'file', weight: 6, severity: 'LOW', failure: 0.01, template: 'Uploaded file {resource}', details: 'file' },
  { type: 'file.downloaded', action: 'file_download', resource: 'file', weight: 8, severity: 'LOW', failure: 0.01, template: 'Downloaded file {resource}', details: 'file' },
  { type: 'file.deleted', action: 'file_delete', resource: 'file', weight: 1.5, severity: 'MEDIUM', failure: 0.01, template: 'Deleted file {resource}', details: 'file' },
  { type: 'file.shared', action: 'file_share', resource: 'file', weight: 2, severity: 'LOW', failure: 0.01, template: 'Shared file {resource} with an external address', details: 'file' },
  { type: 'document.viewed', action: 'view', resource: 'document', weight: 10, severity: 'LOW', failure: 0, template: 'Viewed document {resource}', details: 'doc' },
  { type: 'document.edited', action: 'edit', resource: 'document', weight: 5, severity: 'LOW', failure: 0.005, template: 'Edited document {resource}', details: 'doc' },
  { type: 'user.created', action: 'create_user', resource: 'user', weight: 0.5, severity: 'MEDIUM', failure: 0.01, template: 'Created user account {resource}', details: 'role' },
  { type: 'user.deleted', action: 'delete_user', resource: 'user', weight: 0.1, severity: 'HIGH', failure: 0.01, template: 'Deleted user account {resource}', details: 'none' },
  { type: 'user.password_changed', action: 'password_change', resource: 'user', weight: 0.5, severity: 'MEDIUM', failure: 0.02, template: 'Password changed for {user}', details: 'none' },
  { type: 'role.assigned', action: 'assign_role', resource: 'role', weight: 0.4, severity: 'MEDIUM', failure: 0.01, template: 'Assigned role to {resource}', details: 'role' },
  { type: 'role.revoked', action: 'revoke_role', resource: 'role', weight: 0.1, severity: 'MEDIUM', failure: 0.01, template: 'Revoked role from {resource}', details: 'role' },
  { type: 'permission.granted', action: 'grant', resource: 'permission', weight: 0.5, severity: 'MEDIUM', failure: 0, template: 'Granted permission {resource}', details: 'role' },
  { type: 'permission.denied', action: 'deny', resource: 'permission', weight: 1, severity: 'MEDIUM', failure: 1, template: 'Permission denied for {user} on {resource}', details: 'none' },
  { type: 'settings.updated', action: 'update_settings', resource: 'settings', weight: 1, severity: 'LOW', failure: 0.01, template: 'Updated workspace settings', details: 'doc' },
  { type: 'billing.invoice_paid', action: 'pay_invoice', resource: 'invoice', weight: 0.3, severity: 'LOW', failure: 0.02, template: 'Paid invoice {resource}', details: 'billing' },
  { type: 'billing.plan_changed', action: 'change_plan', resource: 'subscription', weight: 0.1, severity: 'MEDIUM', failure: 0.01, template: 'Changed subscription plan', details: 'billing' },
  { type: 'export.created', action: 'export', resource: 'report', weight: 0.8, severity: 'LOW', failure: 0.01, template: 'Exported report {resource}', details: 'file' },
  { type: 'apikey.created', action: 'create_key', resource: 'api_key', weight: 0.2, severity: 'HIGH', failure: 0, template: 'Created API key {resource}', details: 'none' },
  { type: 'apikey.revoked', action: 'revoke_key', resource: 'api_key', weight: 0.1, severity: 'MEDIUM', failure: 0, template: 'Revoked API key {resource}', details: 'none' },
  { type: 'security.mfa_enabled', action: 'enable_mfa', resource: 'user', weight: 0.2, severity: 'LOW', failure: 0, template: 'Enabled two-factor authentication for {user}', details: 'none' },
  { type: 'security.alert', action: 'alert', resource: 'security', weight: 0.05, severity: 'CRITICAL', failure: 0, template: 'Impossible travel detected for {user} from {ip}', details: 'login' },
  { type: 'admin.impersonation', action: 'impersonate', resource: 'user', weight: 0.05, severity: 'HIGH', failure: 0, template: 'Support impersonated {resource}', details: 'none' },
];

export const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
  'acme-sdk-node/2.3.1 node/20.15.0',
  'acme-sdk-python/1.9.0 python/3.12.4',
  'terraform-provider-acme/0.14.2',
  'curl/8.8.0',
];

export const TENANTS = 1000;
export const SPAN_DAYS = 90;
export const SEVERITY_ESCALATION = { MEDIUM: 0.02, HIGH: 0.005, CRITICAL: 0.001 } as const;

export const tenantName = (rank: number) => `tenant-${String(rank).padStart(4, '0')}`;
export const userName = (tenantRank: number, userRank: number) => `user-${userRank}@${tenantName(tenantRank)}.example`;
/** Users in a tenant: more in big tenants. */
export const usersInTenant = (tenantRank: number) => Math.max(5, Math.floor(5000 / tenantRank));
export const RESOURCES_PER_TENANT = 20_000;

const cumulative = (() => {
  const total = ACTIVITY_TYPES.reduce((s, t) => s + t.weight, 0);
  let acc = 0;
  return ACTIVITY_TYPES.map((t) => (acc += t.weight / total));
})();
/** Cumulative type probabilities (the SQL generator picks with arrayFirstIndex over these). */
export const TYPE_CUMULATIVE = cumulative;

/** Deterministic PRNG (mulberry32): the same seed gives the same corpus on both sides of a ratio. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** log-uniform rank in 1..n: P(k) ~ 1/k, the "few big, many small" shape of tenants and users. */
export const zipfRank = (u: number, n: number) => Math.min(n, Math.floor(Math.exp(u * Math.log(n + 1))));

const hex = (rand: () => number, chars: number) => {
  let s = '';
  while (s.length < chars) s += Math.floor(rand() * 0x100000000).toString(16).padStart(8, '0');
  return s.slice(0, chars);
};

function uuidv7At(ms: number, rand: () => number): string {
  const t = ms.toString(16).padStart(12, '0');
  const variant = '89ab'[Math.floor(rand() * 4)]!;
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${hex(rand, 3)}-${variant}${hex(rand, 3)}-${hex(rand, 12)}`;
}

export const resourceId = (resourceType: string, tenantRank: number, rank: number) =>
  `${resourceType}_${crypto.createHash('sha1').update(`${tenantRank}:${rank}`).digest('hex').slice(0, 12)}`;

function ipFor(tenantRank: number, userRank: number, which: number): string {
  const h = crypto.createHash('sha1').update(`${tenantRank}:${userRank}:${which}`).digest();
  return `${h[0]! % 223 + 1}.${h[1]}.${h[2]}.${h[3]}`;
}

function detailsFor(kind: ActivityTypeSpec['details'], rand: () => number, resource: string): Record<string, unknown> {
  switch (kind) {
    case 'login':
      return { method: rand() < 0.8 ? 'password' : 'sso', mfa: rand() < 0.6 };
    case 'api':
      return { method: ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'][Math.floor(rand() * 6)], path: `/v1/${resource}`, status: rand() < 0.97 ? 200 : 500, duration_ms: Math.floor(rand() * rand() * 2000) };
    case 'file':
      return { filename: `report-${Math.floor(rand() * 5000)}.pdf`, size: Math.floor(rand() * 5_000_000) };
    case 'doc':
      return { version: Math.floor(rand() * 40) + 1 };
    case 'role':
      return { role: ['viewer', 'editor', 'admin', 'billing'][Math.floor(rand() * 4)] };
    case 'billing':
      return { amount_cents: Math.floor(rand() * 100_000), currency: rand() < 0.7 ? 'EUR' : 'USD' };
    default:
      return {};
  }
}

/** An event as a service posts it: every field set, so the stored row is fully determined. */
export type WireEvent = Omit<AuditEvent, 'received_at'>;

export function generateEvents(count: number, seed: number, nowMs = Date.now(), shape: 'live' | 'history' = 'live'): WireEvent[] {
  const rand = prng(seed);
  const spanMs = SPAN_DAYS * 86_400_000;
  const age = shape === 'history' ? () => Math.floor(rand() * spanMs)
    : () => (rand() < 0.01 ? Math.floor(rand() * 3 * 86_400_000) : Math.floor(rand() * 60_000));
  const out: WireEvent[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const tenant = zipfRank(rand(), TENANTS);
    const user = zipfRank(rand(), usersInTenant(tenant));
    const u = rand();
    const spec = ACTIVITY_TYPES[Math.max(0, cumulative.findIndex((c) => c > u))]!;
    const r = rand();
    const severity = r < SEVERITY_ESCALATION.CRITICAL ? 'CRITICAL' : r < SEVERITY_ESCALATION.HIGH ? 'HIGH'
      : r < SEVERITY_ESCALATION.MEDIUM && spec.severity === 'LOW' ? 'MEDIUM' : spec.severity;
    const ts = nowMs - age();
    const resource = resourceId(spec.resource, tenant, zipfRank(rand(), RESOURCES_PER_TENANT));
    const ip = ipFor(tenant, user, Math.floor(rand() * 3));
    const userId = userName(tenant, user);
    out[i] = {
      id: uuidv7At(ts, rand),
      timestamp: new Date(ts).toISOString(),
      activity_type: spec.type,
      severity,
      action: spec.action,
      description: spec.template.replace('{user}', userId).replace('{resource}', resource).replace('{ip}', ip),
      outcome: rand() < spec.failure ? 'failure' : 'success',
      user_id: userId,
      tenant_id: tenantName(tenant),
      resource_type: spec.resource,
      resource_id: resource,
      ip_address: ip,
      user_agent: USER_AGENTS[(tenant * 7 + user) % USER_AGENTS.length]!,
      request_id: `req_${hex(rand, 16)}`,
      details: detailsFor(spec.details, rand, resource),
    };
  }
  return out;
}
