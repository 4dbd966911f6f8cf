// The analytics tables fed by materialized views on audit_activities (migrations 0010-0014).
// They only ever receive inserts: deleting raw rows (retention, TTL) leaves the trends intact.
import { renderForCluster } from '../cluster/render.ts';
import type { Store } from '../store/client.ts';

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

/**
 * Right to be forgotten, for the analytics tables: audit_user_daily is the only one that holds a
 * user id. With `replacement` (the pseudonym the raw rows now carry) the user's counts move to it,
 * so the views keep agreeing with the raw rows; without, the user's rows are removed. The uniq
 * states in audit_failures_minutely hold hashes, not ids, and cannot be split per user.
 * Returns the number of (tenant, day) rows that named the user.
 */
export async function forgetUserInViews(
  store: Store,
  opts: { userId: string; tenantId?: string | undefined; replacement?: string | undefined; cluster?: string | undefined },
): Promise<number> {
  const table = store.table(VIEWS.userDaily);
  const params = { user: opts.userId, tenant: opts.tenantId ?? '', replacement: opts.replacement ?? '' };
  const where = `user_id = {user:String}${opts.tenantId !== undefined ? ' AND tenant_id = {tenant:String}' : ''}`;
  const [found] = await store.query<{ n: string | number }>(`SELECT count() AS n FROM ${table} WHERE ${where}`, params, 'erasure');
  const rows = Number(found?.n ?? 0);
  if (rows === 0) return 0;
  if (opts.replacement !== undefined) {
    await store.command(
      `INSERT INTO ${table} (tenant_id, day, user_id, events, failures)
       SELECT tenant_id, day, {replacement:String}, sum(events), sum(failures) FROM ${table} WHERE ${where} GROUP BY tenant_id, day`,
      params,
      'erasure',
    );
  }
  for (const statement of userDeletion(store.database, table, where, opts.cluster)) await store.command(statement, params, 'erasure');
  return rows;
}

/**
 * A synchronous mutation (when it returns, no part holds the id any more); on a cluster it goes
 * to every shard's local table (a Distributed table takes no ALTER ... DELETE).
 */
export function userDeletion(database: string, table: string, where: string, cluster?: string): string[] {
  const alter = `ALTER TABLE ${table} DELETE WHERE ${where} SETTINGS mutations_sync = 2`;
  return cluster ? renderForCluster([alter], { cluster, database }) : [alter];
}
