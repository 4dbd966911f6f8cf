import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VIEWS } from '../../src/analytics/views.ts';
import { ERASED } from '../../src/integrity/canonical.ts';
import { eraseSubject } from '../../src/integrity/erasure.ts';
import { insertEvents } from '../../src/store/activity-rows.ts';
import { Store } from '../../src/store/client.ts';
import { loadMigrations, migrate, renderStatements } from '../../src/store/migrate.ts';
import { seedEvents } from '../support/analytics-seed.ts';
import { testDataDir } from '../support/service.ts';
import { startOn } from '../support/integrity.ts';

// Archiving on: the table carries no delete TTL.
const ttl = null;
const now = Date.now();

let store: Store;
beforeAll(async () => {
  store = await Store.open({ dataDir: testDataDir(), database: `v_${crypto.randomBytes(5).toString('hex')}` });
});
afterAll(async () => store?.close());

/**
 * Each analytics table's rows, re-aggregated by key, next to the same aggregation over raw rows.
 * `ips: false` leaves out the distinct IP count of audit_failures_minutely: its uniq states hold
 * hashes of the IPs an erasure has since replaced, and cannot be rewritten (see eraseSubject).
 */
async function viewsAndRaw(o: { ips?: boolean } = {}): Promise<Array<{ table: string; view: unknown[]; raw: unknown[] }>> {
  const ips = o.ips ?? true;
  const raw = store.table('audit_activities');
  const pairs: Array<[string, string, string]> = [
    [
      VIEWS.hourly,
      `SELECT tenant_id, toString(hour) AS k, activity_type, toString(severity) AS s, toString(outcome) AS o, sum(events) AS n
       FROM ${store.table(VIEWS.hourly)} GROUP BY ALL ORDER BY ALL`,
      `SELECT tenant_id, toString(toStartOfHour(toDateTime(timestamp, 'UTC'))) AS k, activity_type, toString(severity) AS s,
       toString(outcome) AS o, count() AS n FROM ${raw} GROUP BY ALL ORDER BY ALL`,
    ],
    [
      VIEWS.daily,
      `SELECT tenant_id, toString(day) AS k, activity_type, toString(severity) AS s, toString(outcome) AS o, sum(events) AS n
       FROM ${store.table(VIEWS.daily)} GROUP BY ALL ORDER BY ALL`,
      `SELECT tenant_id, toString(toDate(timestamp, 'UTC')) AS k, activity_type, toString(severity) AS s,
       toString(outcome) AS o, count() AS n FROM ${raw} GROUP BY ALL ORDER BY ALL`,
    ],
    [
      VIEWS.userDaily,
      `SELECT tenant_id, toString(day) AS k, user_id, sum(events) AS n, sum(failures) AS f
       FROM ${store.table(VIEWS.userDaily)} GROUP BY ALL ORDER BY ALL`,
      `SELECT tenant_id, toString(toDate(timestamp, 'UTC')) AS k, user_id, count() AS n, countIf(outcome = 'failure') AS f
       FROM ${raw} GROUP BY ALL ORDER BY ALL`,
    ],
    [
      VIEWS.resourceDaily,
      `SELECT tenant_id, toString(day) AS k, resource_type, resource_id, sum(events) AS n, sum(failures) AS f
       FROM ${store.table(VIEWS.resourceDaily)} GROUP BY ALL ORDER BY ALL`,
      `SELECT tenant_id, toString(toDate(timestamp, 'UTC')) AS k, resource_type, resource_id, count() AS n,
       countIf(outcome = 'failure') AS f FROM ${raw} WHERE resource_id != '' GROUP BY ALL ORDER BY ALL`,
    ],
    [
      VIEWS.failuresMinutely,
      `SELECT tenant_id, toString(minute) AS k, activity_type, toString(severity) AS s, sum(failures) AS n,
       uniqMerge(users) AS u${ips ? ', uniqMerge(ip_addresses) AS i' : ''} FROM ${store.table(VIEWS.failuresMinutely)} GROUP BY ALL ORDER BY ALL`,
      `SELECT tenant_id, toString(toStartOfMinute(toDateTime(timestamp, 'UTC'))) AS k, activity_type, toString(severity) AS s,
       count() AS n, uniq(user_id) AS u${ips ? ', uniq(ip_address) AS i' : ''} FROM ${raw} WHERE outcome = 'failure' GROUP BY ALL ORDER BY ALL`,
    ],
  ];
  const out = [];
  for (const [table, viewSql, rawSql] of pairs) {
    const norm = (rows: Array<Record<string, unknown>>) => rows.map((r) => Object.values(r).map(String));
    out.push({ table, view: norm(await store.query(viewSql)), raw: norm(await store.query(rawSql)) });
  }
  return out;
}

async function expectViewsEqualRaw(minRows = 1, o: { ips?: boolean } = {}) {
  for (const { table, view, raw } of await viewsAndRaw(o)) {
    expect(view, table).toEqual(raw);
    expect(raw.length, table).toBeGreaterThanOrEqual(minRows);
  }
}

describe('analytics views', () => {
  it('backfill rows stored before the views existed, exactly once, then count every new insert', async () => {
    const all = loadMigrations();
    expect(all.filter((m) => m.version >= 10 && m.version <= 14).map((m) => m.name)).toHaveLength(5);
    await migrate(store, { ttl, migrations: all.filter((m) => m.version < 10) });
    await insertEvents(store, seedEvents({ tenants: ['acme', 'globex'], perTenant: 800, spanDays: 10, now, seed: 1 }));

    const result = await migrate(store, { ttl });
    expect(result.applied).toEqual(all.filter((m) => m.version >= 10).map((m) => m.name));
    await expectViewsEqualRaw();

    // New rows go through the views' triggers, in several inserts of mixed tenants.
    const later = seedEvents({ tenants: ['acme', 'initech'], perTenant: 400, spanDays: 3, now, seed: 2 });
    await insertEvents(store, later.slice(0, 300));
    await insertEvents(store, later.slice(300));
    await expectViewsEqualRaw();
    // Merging parts (what the engine does in the background) changes nothing either.
    for (const table of Object.values(VIEWS)) await store.command(`OPTIMIZE TABLE ${store.table(table)} FINAL`);
    await expectViewsEqualRaw();
  });

  it('do not count again when a view migration is re-run after a crash', async () => {
    // As if the process died after the backfill but before the migration was recorded.
    for (const m of loadMigrations().filter((m) => m.version >= 10 && m.version <= 14)) {
      for (const statement of renderStatements(m.sql, store.database)) await store.command(statement);
    }
    await expectViewsEqualRaw();
    expect((await migrate(store, { ttl })).applied).toEqual([]);
  });

  it("an erasure moves the subject's per-user counts to [ERASED], tenant by tenant: the views keep agreeing with the raw rows", async () => {
    const userRows = async (user: string) =>
      Number((await store.query<{ n: string }>(
        `SELECT sum(events) AS n FROM ${store.table(VIEWS.userDaily)} WHERE user_id = {u:String}`, { u: user },
      ))[0]!.n);
    const rawRows = async (user: string, tenant: string) =>
      Number((await store.query<{ n: string }>(
        `SELECT count() AS n FROM ${store.table('audit_activities')} WHERE user_id = {u:String} AND tenant_id = {t:String}`, { u: user, t: tenant },
      ))[0]!.n);
    // The production erasure (POST /api/v1/audit/erasure) on this database: its writer records the
    // audit.erasure event, its mutation rewrites the raw rows, and it moves the aggregates.
    const s = await startOn(store.database);
    const erase = (tenant: string, userId: string) => eraseSubject(
      { store, writer: s.writer, keys: s.integrity.keys, currentPii: { detailKeys: s.config.integrity.piiDetailKeys, resourceTypes: s.config.integrity.piiResourceTypes } },
      { tenant, userId, actor: { sub: 'dpo', ip: '127.0.0.1', userAgent: 'analytics-views', requestId: 'r-1' } },
    );
    try {
      const before = await userRows("o'brien");
      expect(before).toBeGreaterThan(0);
      const inAcme = await rawRows("o'brien", 'acme');
      expect(inAcme).toBeGreaterThan(0);

      // In acme only: the raw rows now say [ERASED], and the per-user view follows.
      expect((await erase('acme', "o'brien")).aggregate_rows).toBeGreaterThan(0);
      expect(await rawRows("o'brien", 'acme')).toBe(0);
      expect(await userRows(ERASED)).toBe(inAcme);
      expect(await userRows("o'brien")).toBe(before - inAcme);
      await expectViewsEqualRaw(1, { ips: false });

      // In every other tenant too: the user leaves the view, and every count of theirs is kept.
      for (const tenant of ['globex', 'initech']) await erase(tenant, "o'brien");
      expect(await userRows("o'brien")).toBe(0);
      expect(await userRows(ERASED)).toBe(before);
      await expectViewsEqualRaw(1, { ips: false });
      expect((await erase('acme', "o'brien")).aggregate_rows).toBe(0);
      expect((await erase('acme', 'nobody-at-all')).aggregate_rows).toBe(0);
    } finally {
      await s.shutdown();
    }
  });
});
