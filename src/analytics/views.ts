// The analytics tables fed by materialized views on audit_activities (migrations 0010-0014).
// They only ever receive inserts: deleting raw rows (retention, TTL) leaves the trends intact.

export const VIEWS = {
  /** Per tenant, hour, activity_type, severity, outcome: `events`. Kept 400 days. */
  hourly: 'audit_activity_hourly',
  /** Per tenant, day, activity_type, severity, outcome: `events`. Kept 1830 days. */
  daily: 'audit_activity_daily',
  /** Per tenant, day, user_id: `events`, `failures`. Kept 400 days. */
  userDaily: 'audit_user_daily',
  /** Per tenant, day, resource_type, resource_id (non-empty): `events`, `failures`. Kept 400 days. */
  resourceDaily: 'audit_resource_daily',
  /** Failures per tenant, minute, activity_type, severity, with uniq states. Kept 90 days. */
  failuresMinutely: 'audit_failures_minutely',
} as const;

/** The longest window every summary part can cover: the TTL of the per-user and per-resource tables. */
export const MAX_SUMMARY_DAYS = 400;
