// The queries of §3 and §8, each twice: as audithouse runs it (the store functions the API
// calls, so the very SQL of the API) and as the seed guide's Postgres design would run it
// (the same filters, newest first, LIMIT 50, through `pg`).
import type pg from 'pg';
import { getEvent, listEvents, type ActivityFilters, type Cursor } from '../../src/store/activities.ts';
import type { Store } from '../../src/store/client.ts';
import { TailCache } from '../../src/query/tail.ts';

export interface QueryParamsChosen {
  tenant: string;
  /** Rows of that tenant. */
  tenantRows: number;
  user: string;
  userRows: number;
  resourceId: string;
  ids: string[];
  nowMs: number;
  /** The cursor of page `depth` (limit 50) of the unfiltered feed. */
  deepCursor: Cursor | undefined;
  depth: number;
}

export interface QueryCase {
  name: string;
  /** 'point' (feed, user, id), 'filter', 'analytics', 'text', 'cursor'. */
  group: 'point' | 'filter' | 'analytics' | 'text' | 'cursor';
  ch(store: Store, i: number): Promise<unknown>;
  pg?: (client: pg.Client, i: number) => Promise<unknown>;
}

const PAGE = 50;
const DAY = 86_400_000;

const PG_COLS = `id, timestamp, received_at, activity_type, severity, action, description, outcome, user_id, tenant_id,
  resource_type, resource_id, ip_address, user_agent, request_id, details`;

/** Postgres twin of whereClause: the same conditions, $n-bound. */
function pgWhere(tenant: string, f: ActivityFilters, cursor?: Cursor): { sql: string; values: unknown[] } {
  const values: unknown[] = [tenant];
  const conds = ['tenant_id = $1'];
  const add = (sql: (n: string) => string, v: unknown) => {
    values.push(v);
    conds.push(sql(`$${values.length}`));
  };
  if (f.user_id !== undefined) add((n) => `user_id = ${n}`, f.user_id);
  if (f.action !== undefined) add((n) => `action = ${n}`, f.action);
  if (f.resource_type !== undefined) add((n) => `resource_type = ${n}`, f.resource_type);
  if (f.resource_id !== undefined) add((n) => `resource_id = ${n}`, f.resource_id);
  if (f.outcome !== undefined) add((n) => `outcome = ${n}`, f.outcome);
  if (f.activity_type?.length) add((n) => `activity_type = ANY(${n})`, f.activity_type);
  if (f.severity?.length) add((n) => `severity = ANY(${n})`, f.severity);
  if (f.since !== undefined) add((n) => `timestamp >= ${n}`, new Date(f.since));
  if (f.until !== undefined) add((n) => `timestamp < ${n}`, new Date(f.until));
  if (f.q) add((n) => `description ILIKE ${n}`, `%${f.q.replace(/[\\%_]/g, (m) => `\\${m}`)}%`);
  if (cursor) {
    values.push(new Date(cursor.ts), cursor.id);
    conds.push(`(timestamp, id) < ($${values.length - 1}, $${values.length})`);
  }
  return { sql: conds.join(' AND '), values };
}

const pgList = (c: pg.Client, tenant: string, f: ActivityFilters, cursor?: Cursor) => {
  const w = pgWhere(tenant, f, cursor);
  return c.query(`SELECT ${PG_COLS} FROM audit_activities WHERE ${w.sql} ORDER BY timestamp DESC, id DESC LIMIT ${PAGE}`, w.values);
};

function listCase(name: string, group: QueryCase['group'], p: QueryParamsChosen, f: ActivityFilters): QueryCase {
  return {
    name,
    group,
    ch: (s) => listEvents(s, p.tenant, f, PAGE),
    pg: (c) => pgList(c, p.tenant, f),
  };
}

/** The summary's aggregates over the last 30 days of one tenant, from raw rows. */
export function chAggregates(p: QueryParamsChosen) {
  const since = p.nowMs - 30 * DAY;
  const where = 'tenant_id = {tenant:String} AND timestamp >= fromUnixTimestamp64Milli({since:Int64})';
  const params = { tenant: p.tenant, since };
  const t = (s: Store) => s.table('audit_activities');
  return {
    bySeverity: (s: Store) => s.query(`SELECT toString(severity) AS severity, count() AS n FROM ${t(s)} WHERE ${where} GROUP BY severity`, params, 'bench'),
    byType: (s: Store) => s.query(`SELECT activity_type, count() AS n FROM ${t(s)} WHERE ${where} GROUP BY activity_type ORDER BY n DESC`, params, 'bench'),
    daily: (s: Store) => s.query(`SELECT toDate(timestamp) AS day, count() AS n, countIf(outcome = 'failure') AS failures FROM ${t(s)} WHERE ${where} GROUP BY day ORDER BY day`, params, 'bench'),
    topUsers: (s: Store) => s.query(`SELECT user_id, count() AS n FROM ${t(s)} WHERE ${where} GROUP BY user_id ORDER BY n DESC LIMIT 10`, params, 'bench'),
    topResources: (s: Store) => s.query(`SELECT resource_type, resource_id, count() AS n FROM ${t(s)} WHERE ${where} GROUP BY resource_type, resource_id ORDER BY n DESC LIMIT 10`, params, 'bench'),
    failureRate: (s: Store) => s.query(`SELECT countIf(outcome = 'failure') / count() AS rate FROM ${t(s)} WHERE ${where}`, params, 'bench'),
  };
}

function pgAggregates(p: QueryParamsChosen) {
  const since = new Date(p.nowMs - 30 * DAY);
  const where = 'tenant_id = $1 AND timestamp >= $2';
  const v = [p.tenant, since];
  return {
    bySeverity: (c: pg.Client) => c.query(`SELECT severity, count(*) AS n FROM audit_activities WHERE ${where} GROUP BY severity`, v),
    byType: (c: pg.Client) => c.query(`SELECT activity_type, count(*) AS n FROM audit_activities WHERE ${where} GROUP BY activity_type ORDER BY n DESC`, v),
    daily: (c: pg.Client) => c.query(`SELECT date_trunc('day', timestamp) AS day, count(*) AS n, count(*) FILTER (WHERE outcome = 'failure') AS failures FROM audit_activities WHERE ${where} GROUP BY day ORDER BY day`, v),
    topUsers: (c: pg.Client) => c.query(`SELECT user_id, count(*) AS n FROM audit_activities WHERE ${where} GROUP BY user_id ORDER BY n DESC LIMIT 10`, v),
    topResources: (c: pg.Client) => c.query(`SELECT resource_type, resource_id, count(*) AS n FROM audit_activities WHERE ${where} GROUP BY resource_type, resource_id ORDER BY n DESC LIMIT 10`, v),
    failureRate: (c: pg.Client) => c.query(`SELECT count(*) FILTER (WHERE outcome = 'failure')::float / count(*) AS rate FROM audit_activities WHERE ${where}`, v),
  };
}

/**
 * The read cache the API answers point reads from (src/query/tail.ts), on the bench's store: the
 * same TailCache the service builds (64 MiB), loaded from the engine on first use, then answering
 * from memory. Store level like the rows above, but through the read path's first step.
 */
const tails = new WeakMap<Store, TailCache>();
function tailOf(s: Store): TailCache {
  let t = tails.get(s);
  if (!t) tails.set(s, (t = new TailCache(s, { budgetBytes: 64 * 2 ** 20 })));
  return t;
}

function tailCases(p: QueryParamsChosen): QueryCase[] {
  const page = async (s: Store, f: ActivityFilters, cursor?: Cursor) => (await tailOf(s).page(p.tenant, f, PAGE, cursor)) ?? listEvents(s, p.tenant, f, PAGE, cursor);
  let feedIds: string[] | undefined;
  const feedId = async (s: Store, i: number) => {
    feedIds ??= (await listEvents(s, p.tenant, {}, PAGE)).map((e) => e.id);
    return feedIds[(i + PAGE * 4) % feedIds.length]!;
  };
  const tailCase = (name: string, f: ActivityFilters, cursor?: Cursor): QueryCase => ({
    name: `${name}, read cache`, group: 'point', ch: (s) => page(s, f, cursor), pg: (c) => pgList(c, p.tenant, f, cursor),
  });
  return [
    tailCase('feed: latest 50 of the tenant', {}),
    tailCase('recent: last 7 days', { since: p.nowMs - 7 * DAY }),
    tailCase(`by user (${p.userRows} events)`, { user_id: p.user }),
    ...(p.deepCursor ? [tailCase(`cursor: page ${p.depth} of the feed`, {}, p.deepCursor)] : []),
    {
      name: 'by id of a feed event, read cache',
      group: 'point',
      ch: async (s, i) => tailOf(s).event(p.tenant, await feedId(s, i)),
      // The same ids (the feed's, read from the engine once): the peer's B-tree lookup.
      pg: async (c, i) => c.query(`SELECT ${PG_COLS} FROM audit_activities WHERE tenant_id = $1 AND id = $2 LIMIT 1`, [p.tenant, feedIds?.[(i + PAGE * 4) % feedIds.length] ?? p.ids[0]]),
    },
  ];
}

export function queryCases(p: QueryParamsChosen): QueryCase[] {
  const ch = chAggregates(p);
  const pga = pgAggregates(p);
  const dayStart = p.nowMs - 45 * DAY;
  const cases: QueryCase[] = [
    listCase('feed: latest 50 of the tenant', 'point', p, {}),
    listCase('recent: last 7 days (the /recent endpoint)', 'point', p, { since: p.nowMs - 7 * DAY }),
    listCase(`by user (${p.userRows} events)`, 'point', p, { user_id: p.user }),
    {
      name: 'by id',
      group: 'point',
      ch: (s, i) => getEvent(s, p.tenant, p.ids[(i + p.ids.length) % p.ids.length]!),
      pg: (c, i) => c.query(`SELECT ${PG_COLS} FROM audit_activities WHERE tenant_id = $1 AND id = $2 LIMIT 1`, [p.tenant, p.ids[(i + p.ids.length) % p.ids.length]]),
    },
    ...tailCases(p),
    listCase('filter severity=HIGH,CRITICAL', 'filter', p, { severity: ['HIGH', 'CRITICAL'] }),
    listCase('filter activity_type=user.login (common)', 'filter', p, { activity_type: ['user.login'] }),
    listCase('filter activity_type=security.alert (rare)', 'filter', p, { activity_type: ['security.alert'] }),
    listCase('filter outcome=failure', 'filter', p, { outcome: 'failure' }),
    listCase('filter action=file_upload', 'filter', p, { action: 'file_upload' }),
    listCase('filter resource_type=invoice', 'filter', p, { resource_type: 'invoice' }),
    listCase('filter resource_id (one resource)', 'filter', p, { resource_id: p.resourceId }),
    listCase('filter since/until: one day, 45 days ago', 'filter', p, { since: dayStart, until: dayStart + DAY }),
    listCase('filter user + type + last 30 days', 'filter', p, { user_id: p.user, activity_type: ['user.login'], since: p.nowMs - 30 * DAY }),
    listCase('text search q=password (≈3% of rows)', 'text', p, { q: 'password' }),
    listCase('text search q=impersonated (rare)', 'text', p, { q: 'impersonated' }),
    {
      name: `cursor: page ${p.depth} of the feed`,
      group: 'cursor',
      ch: (s) => listEvents(s, p.tenant, {}, PAGE, p.deepCursor),
      pg: (c) => pgList(c, p.tenant, {}, p.deepCursor),
    },
    {
      name: 'summary: 6 aggregates over 30 days, raw rows',
      group: 'analytics',
      ch: async (s) => {
        for (const q of Object.values(ch)) await q(s);
      },
      pg: async (c) => {
        for (const q of Object.values(pga)) await q(c);
      },
    },
    { name: 'daily series (30 days)', group: 'analytics', ch: (s) => ch.daily(s), pg: (c) => pga.daily(c) },
    { name: 'top 10 users (30 days)', group: 'analytics', ch: (s) => ch.topUsers(s), pg: (c) => pga.topUsers(c) },
  ];
  return cases;
}
