// Stored events as OCSF 1.x events (Open Cybersecurity Schema Framework, schema 1.3.0): the class
// chosen from the activity type (README "Sinks" has the table), the activity from its verb.
// metadata.uid is the event id: the receiver's dedupe key for at-least-once delivery.
import fs from 'node:fs';
import type { AuditEvent } from '../event/model.ts';

export const OCSF_VERSION = '1.3.0';
export const PRODUCT_VERSION = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

interface OcsfClass {
  uid: number;
  name: string;
  /** activity_id by the activity type's last segment (verb); 99 Other when none matches. */
  activities: Record<string, [number, string]>;
}

const ENTITY_VERBS: Record<string, [number, string]> = {
  created: [1, 'Create'], uploaded: [1, 'Create'], added: [1, 'Create'],
  read: [2, 'Read'], viewed: [2, 'Read'], downloaded: [2, 'Read'], accessed: [2, 'Read'], exported: [2, 'Read'],
  updated: [3, 'Update'], changed: [3, 'Update'], modified: [3, 'Update'], renamed: [3, 'Update'],
  deleted: [4, 'Delete'], removed: [4, 'Delete'], moved: [5, 'Move'],
  enabled: [8, 'Enable'], disabled: [9, 'Disable'], suspended: [12, 'Suspend'], resumed: [13, 'Resume'],
};

const AUTHENTICATION: OcsfClass = {
  uid: 3002, name: 'Authentication',
  activities: { login: [1, 'Logon'], login_failed: [1, 'Logon'], logon: [1, 'Logon'], logout: [2, 'Logoff'], logoff: [2, 'Logoff'], token_issued: [3, 'Authentication Ticket'] },
};
const ACCOUNT_CHANGE: OcsfClass = {
  uid: 3001, name: 'Account Change',
  activities: {
    created: [1, 'Create'], enabled: [2, 'Enable'], password_changed: [3, 'Password Change'], password_reset: [4, 'Password Reset'],
    disabled: [5, 'Disable'], deleted: [6, 'Delete'], locked: [9, 'Lock'], mfa_enabled: [10, 'MFA Factor Enable'], mfa_disabled: [11, 'MFA Factor Disable'],
  },
};
const USER_ACCESS: OcsfClass = { uid: 3005, name: 'User Access Management', activities: { granted: [1, 'Assign Privileges'], revoked: [2, 'Revoke Privileges'] } };
const ENTITY_MANAGEMENT: OcsfClass = { uid: 3004, name: 'Entity Management', activities: ENTITY_VERBS };
const API_ACTIVITY: OcsfClass = {
  uid: 6003, name: 'API Activity',
  activities: { created: [1, 'Create'], read: [2, 'Read'], accessed: [2, 'Read'], viewed: [2, 'Read'], updated: [3, 'Update'], deleted: [4, 'Delete'] },
};
const HTTP_METHOD_ACTIVITY: Record<string, [number, string]> = { POST: [1, 'Create'], GET: [2, 'Read'], HEAD: [2, 'Read'], PUT: [3, 'Update'], PATCH: [3, 'Update'], DELETE: [4, 'Delete'] };

const CATEGORY_NAMES: Record<number, string> = { 3: 'Identity & Access Management', 6: 'Application Activity' };
const SEVERITY: Record<string, [number, string]> = { LOW: [2, 'Low'], MEDIUM: [3, 'Medium'], HIGH: [4, 'High'], CRITICAL: [5, 'Critical'] };

/** The OCSF class of an activity type: by prefix first (logins, accounts, permissions, API), else Entity Management for a known verb. */
export function ocsfClass(activityType: string): OcsfClass {
  const [noun = '', ...rest] = activityType.split('.');
  const verb = rest.join('.');
  if (/^(login|logon|logout|logoff|token_issued)/.test(verb) || noun === 'auth' || noun === 'session') return AUTHENTICATION;
  if (noun === 'user' || noun === 'account') return ACCOUNT_CHANGE;
  if (noun === 'permission' || noun === 'role' || noun === 'privilege') return USER_ACCESS;
  if (noun === 'api' || noun === 'audit') return API_ACTIVITY;
  return ENTITY_MANAGEMENT;
}

export function toOcsf(e: AuditEvent): Record<string, unknown> {
  const cls = ocsfClass(e.activity_type);
  const verb = e.activity_type.split('.').slice(1).join('.');
  const method = typeof e.details.method === 'string' ? e.details.method.toUpperCase() : '';
  const [activityId, activityName] = (e.activity_type === 'api.request' && HTTP_METHOD_ACTIVITY[method]) || cls.activities[verb] || [99, 'Other'];
  const category = Math.floor(cls.uid / 1000);
  const [severityId, severityName] = SEVERITY[e.severity] ?? [0, 'Unknown'];
  const failed = e.outcome === 'failure' || verb.endsWith('_failed');
  const user = e.user_id ? { uid: e.user_id } : undefined;
  const out: Record<string, unknown> = {
    class_uid: cls.uid,
    class_name: cls.name,
    category_uid: category,
    category_name: CATEGORY_NAMES[category],
    activity_id: activityId,
    activity_name: activityName,
    type_uid: cls.uid * 100 + activityId,
    type_name: `${cls.name}: ${activityName}`,
    severity_id: severityId,
    severity: severityName,
    status_id: failed ? 2 : 1,
    status: failed ? 'Failure' : 'Success',
    time: Date.parse(e.timestamp),
    message: e.description || undefined,
    metadata: {
      uid: e.id,
      version: OCSF_VERSION,
      product: { name: 'audithouse', vendor_name: 'audithouse', version: PRODUCT_VERSION },
      tenant_uid: e.tenant_id,
      correlation_uid: e.request_id || undefined,
      logged_time: Date.parse(e.received_at),
    },
    actor: user ? { user } : undefined,
    src_endpoint: e.ip_address ? { ip: e.ip_address } : undefined,
    http_request: e.user_agent ? { user_agent: e.user_agent } : undefined,
    unmapped: { activity_type: e.activity_type, action: e.action, ...(Object.keys(e.details).length ? { details: e.details } : {}) },
  };
  // Class-specific objects the schema requires or expects.
  if (cls === AUTHENTICATION || cls === ACCOUNT_CHANGE || cls === USER_ACCESS) out.user = user ?? { uid: '' };
  const resource = e.resource_type || e.resource_id ? { uid: e.resource_id || undefined, type: e.resource_type || undefined } : undefined;
  if (cls === ENTITY_MANAGEMENT) out.entity = resource ?? { type: e.activity_type.split('.')[0] };
  if (cls === API_ACTIVITY) {
    out.api = { operation: e.action };
    if (resource) out.resources = [resource];
  } else if (resource && cls !== ENTITY_MANAGEMENT) {
    (out.unmapped as Record<string, unknown>).resource = resource;
  }
  return JSON.parse(JSON.stringify(out)) as Record<string, unknown>; // drops the undefined members
}
