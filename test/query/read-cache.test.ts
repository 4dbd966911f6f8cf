// The read cache (src/query/tail.ts) on the real engine: every page it answers equals the store's
// page (the unbounded query), also while events are written, duplicated and erased; it never
// answers across a mutation, a deleted row or a row near its TTL expiry; it survives a restart.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/auth/jwt.ts';
import { insertEvents } from '../../src/store/activity-rows.ts';
import { listEvents, queryPage, type ActivityFilters, type Cursor } from '../../src/store/activities.ts';
import type { EventRow } from '../../src/event/model.ts';
import { createTestService, event, TEST_SECRET, type ApiBody, type TestService } from '../support/service.ts';

const DAY = 86_400_000;
type Page = ApiBody<'get', '/api/v1/audit/activities'>;
type Ev = Page['data'][number];

/** Every page through the API, following cursors. */
async function apiPages(t: TestService, query: string, limit: number, token?: string): Promise<Ev[][]> {
  const pages: Ev[][] = [];
  let cursor: string | null = null;
  do {
    const res = await t.get(`/api/v1/audit/activities?limit=${limit}${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, token ? { token } : {});
    expect(res.status).toBe(200);
    const page: Page = await res.json();
    pages.push(page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return pages;
}

/** The same pages straight from the store (one unbounded query per page, no cache). */
async function storePages(t: TestService, tenant: string, f: ActivityFilters, limit: number): Promise<unknown[][]> {
  const pages: unknown[][] = [];
  let cursor: Cursor | undefined;
  for (;;) {
    const page = await queryPage(t.services.store, tenant, f, limit, cursor);
    pages.push(page);
    if (page.length < limit) return pages;
    const last = page.at(-1)!;
    cursor = { ts: Date.parse(last.timestamp), id: last.id };
  }
}

const FILTERS: Array<{ query: string; f: (now: number) => ActivityFilters }> = [
  { query: '', f: () => ({}) },
  { query: '&user_id=u1', f: () => ({ user_id: 'u1' }) },
  { query: '&severity=HIGH,CRITICAL', f: () => ({ severity: ['HIGH', 'CRITICAL'] }) },
  { query: '&activity_type=file.uploaded&q=REPORT', f: () => ({ activity_type: ['file.uploaded'], q: 'REPORT' }) },
];

function burst(n: number, base: number, tag: string): Array<Record<string, unknown>> {
  // Many events share a timestamp: ties are ordered by ClickHouse's UUID order.
  return Array.from({ length: n }, (_, i) => event({
    timestamp: new Date(base - Math.floor(i / 5) * 1000).toISOString(),
    user_id: `u${i % 4}`,
    severity: ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'][i % 4],
    activity_type: i % 3 === 0 ? 'file.uploaded' : 'user.login',
    description: `${tag} ${i % 7 === 0 ? 'report' : 'entry'} ${i}`,
  }));
}

describe('read cache: pages equal the store', () => {
  let t: TestService;
  const now = Date.now();
  beforeAll(async () => {
    t = await createTestService({ AUDIT_READ_CACHE_MB: '64' });
    for (let i = 0; i < 4; i++) expect((await t.post(burst(400, now - i * 3600_000, `b${i}`))).status).toBe(202);
    await t.count();
  });
  afterAll(async () => t.close());

  it('answers feed, filters, since/until and every cursor page from memory, each equal to the unbounded query', async () => {
    const tail = t.services.writer.tail!;
    expect(tail).toBeDefined();
    for (const { query, f } of FILTERS) {
      for (const limit of [7, 50, 333]) {
        const hitsBefore = tail.stats.hits;
        const got = await apiPages(t, query, limit);
        expect(got.map((p) => p.map((e) => e.id))).toEqual((await storePages(t, 'acme', f(now), limit)).map((p) => (p as Ev[]).map((e) => e.id)));
        expect(tail.stats.hits).toBeGreaterThan(hitsBefore); // the cache answered (this test can fail)
      }
    }
    // A time range inside the suffix, and one reaching below it.
    for (const [since, until] of [[now - 2 * 3600_000, now - 3600_000], [now - 10 * DAY, now - 3 * 3600_000]] as const) {
      const q = `&since=${new Date(since).toISOString()}&until=${new Date(until).toISOString()}`;
      const got = (await apiPages(t, q, 50)).flat().map((e) => e.id);
      const want = (await storePages(t, 'acme', { since, until }, 50)).flat().map((e) => (e as Ev).id);
      expect(got).toEqual(want);
    }
    // The whole body, not just ids: cached events are exactly what the store returns.
    const feed = await (await t.get('/api/v1/audit/activities?limit=50')).json();
    expect(feed.data).toEqual(JSON.parse(JSON.stringify(await listEvents(t.services.store, 'acme', {}, 50))));
  });

  it('stays exact while events are written (new, late, duplicated by client id) and a subject is erased meanwhile', async () => {
    const admin = await mintToken(TEST_SECRET, { tenant: 'acme', scope: 'audit:read audit:write audit:admin', sub: 'dpo' });
    const dupId = crypto.randomUUID();
    expect((await t.post(event({ id: dupId, description: 'original', user_id: 'u1' }))).status).toBe(202);
    const writes = (async () => {
      for (let round = 0; round < 6; round++) {
        const fresh = [...burst(30, Date.now(), `w${round}`), ...burst(10, now - round * 1800_000, `late${round}`),
          event({ id: dupId, description: `dup ${round}`, user_id: 'u1' })];
        expect((await t.post(fresh)).status).toBe(202);
      }
    })();
    const erasure = t.app.request('/api/v1/audit/erasure', {
      method: 'POST', headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ user_id: 'u3' }),
    });
    const reads = (async () => {
      for (let i = 0; i < 10; i++) for (const { query } of FILTERS) expect((await t.get(`/api/v1/audit/activities?limit=50${query}`)).status).toBe(200);
    })();
    await Promise.all([writes, reads]);
    expect((await erasure).status).toBe(200);
    await t.count(); // everything acknowledged is stored
    for (const { query, f } of FILTERS) {
      const got = (await apiPages(t, query, 50)).flat().map((e) => e.id);
      const want = (await storePages(t, 'acme', f(now), 50)).flat().map((e) => (e as Ev).id);
      expect(got).toEqual(want);
    }
    const dup = (await apiPages(t, '', 1000)).flat().filter((e) => e.id === dupId);
    expect(dup.map((e) => e.description)).toEqual(['original']);
    // The erased subject is nowhere in what the cache answers (stored before the erasure began).
    const u3 = (await apiPages(t, '&user_id=u3', 1000)).flat();
    const stored = await t.services.store.query<{ n: string }>(
      `SELECT count() AS n FROM ${t.services.store.table('audit_activities')} WHERE tenant_id = 'acme' AND user_id = 'u3'`);
    expect(u3).toHaveLength(Number(stored[0]!.n));
  });
});

describe('read cache: mutations, deletes, TTL, restart', () => {
  let t: TestService;
  beforeAll(async () => {
    t = await createTestService({ AUDIT_READ_CACHE_MB: '64', AUDIT_RETENTION_LOW: '30', AUDIT_RETENTION_MEDIUM: '60', AUDIT_RETENTION_HIGH: '90', AUDIT_RETENTION_CRITICAL: '180' });
  });
  afterAll(async () => t.close());
  const tok = (tenant: string) => mintToken(TEST_SECRET, { tenant, scope: 'audit:read audit:write audit:admin', sub: 'ops' });

  it('no read returns an erased subject\'s data: feed, by user and by id were cached before', async () => {
    const token = await tok('erase');
    const res = await t.post([...Array.from({ length: 20 }, (_, i) => event({ user_id: 'carol', description: `c${i}` })), event({ user_id: 'dave' })], { token });
    const ids = (await res.json()).ids;
    await t.count();
    for (const q of ['', '&user_id=carol']) expect((await apiPages(t, q, 50, token)).flat().some((e) => e.user_id === 'carol')).toBe(true);
    expect((await (await t.get(`/api/v1/audit/activities/${ids[0]}`, { token })).json()).user_id).toBe('carol');
    const er = await t.app.request('/api/v1/audit/erasure', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ user_id: 'carol' }) });
    expect(er.status).toBe(200);
    for (const q of ['', '&user_id=carol']) expect((await apiPages(t, q, 50, token)).flat().some((e) => e.user_id === 'carol')).toBe(false);
    expect((await (await t.get(`/api/v1/audit/activities/${ids[0]}`, { token })).json()).user_id).not.toBe('carol');
  });

  it('a load that overlaps an insert takes the inserted rows once; one that overlaps a mutation is thrown away', async () => {
    const { store, writer } = t.services;
    const tail = writer.tail!;
    // One clock reading for all four rows: with Date.now() per row, a millisecond passing between
    // row(100) and row(101) gave them the same timestamp and the order was the uuids' coin toss.
    const now = Date.now();
    const row = (i: number): EventRow => ({
      id: crypto.randomUUID(), tenant_id: 'race', timestamp: now - i, received_at: now, activity_type: 'user.login', severity: 'LOW',
      action: 'login', outcome: 'success', resource_type: '', user_agent: '', user_id: 'r', resource_id: '', ip_address: '', request_id: '', description: `r${i}`, details: '{}',
    });
    const seen = [row(100), row(101)];
    await insertEvents(store, seen);
    // The load registers before its query runs: an insert whose hook comes while it runs is
    // merged once, whether the query saw it (seen) or not (unseen: stored after its snapshot).
    const unseen = [row(1), row(2)];
    const loading = tail.page('race', {}, 50);
    tail.stored([...seen, ...unseen]);
    const page = (await loading)!;
    expect(page.map((e) => e.description)).toEqual(['r1', 'r2', 'r100', 'r101']);
    const again = tail.page('other-tenant', {}, 50);
    await store.gate.exclusive(async () => {});
    expect(await again).toBeUndefined(); // the reader falls back to the store
  });

  it('retention deletes (archiving on): a cached page never shows a deleted event', async () => {
    const token = await tok('ret');
    const old = Date.now() - 40 * DAY; // LOW is kept 30 days
    expect((await t.post(Array.from({ length: 30 }, (_, i) => event({ tenant_id: 'ret', severity: i % 2 ? 'LOW' : 'HIGH', timestamp: new Date(old + i * 1000).toISOString() })), { token })).status).toBe(202);
    await t.count();
    expect((await apiPages(t, '', 50, token)).flat()).toHaveLength(30);
    const hits = t.services.writer.tail!.stats.hits;
    const report = await t.services.retention.run();
    expect(report.totals.deleted_rows).toBeGreaterThanOrEqual(15);
    const after = (await apiPages(t, '', 50, token)).flat();
    expect(after).toHaveLength(15);
    expect(after.every((e) => (e as unknown as { severity: string }).severity === 'HIGH')).toBe(true);
    expect(t.services.writer.tail!.stats.hits).toBeGreaterThan(hits);
  });

  it('keeps what it answers across a restart (a new process starts empty and loads from the store)', async () => {
    const token = await tok('restart');
    expect((await t.post(Array.from({ length: 12 }, (_, i) => event({ description: `before ${i}` })), { token })).status).toBe(202);
    const before = (await apiPages(t, '', 5, token)).flat().map((e) => e.id);
    await t.close();
    t = await createTestService({ AUDIT_READ_CACHE_MB: '64', CLICKHOUSE_DATABASE: t.database });
    expect(t.services.writer.tail!.stats.loads).toBe(0);
    expect((await apiPages(t, '', 5, token)).flat().map((e) => e.id)).toEqual(before);
  });
});

describe('read cache: TTL deletes (archiving off)', () => {
  let t: TestService;
  beforeAll(async () => {
    t = await createTestService({ AUDIT_READ_CACHE_MB: '64', AUDIT_ARCHIVE_ENABLED: 'false', AUDIT_RETENTION_LOW: '30', AUDIT_RETENTION_MEDIUM: '60', AUDIT_RETENTION_HIGH: '90', AUDIT_RETENTION_CRITICAL: '180' });
  });
  afterAll(async () => t.close());

  it('a page holding a row near its expiry is answered by the store, and always equals it', async () => {
    const near = Date.now() - 30 * DAY + 20 * 60_000; // LOW: expires in 20 minutes
    expect((await t.post([event({ severity: 'HIGH', description: 'keeps' }), event({ severity: 'LOW', timestamp: new Date(near).toISOString(), description: 'expiring' }),
      event({ severity: 'LOW', timestamp: new Date(Date.now() - 31 * DAY).toISOString(), description: 'expired' })])).status).toBe(202);
    await t.count();
    const tail = t.services.writer.tail!;
    const misses = tail.stats.misses;
    const got = (await apiPages(t, '', 50)).flat().map((e) => e.description);
    expect(got).toEqual((await storePages(t, 'acme', {}, 50)).flat().map((e) => (e as Ev).description));
    expect(got).toContain('expiring');
    expect(tail.stats.misses).toBeGreaterThan(misses); // not from memory
    // Newer pages that hold no such row are still answered from memory.
    const hits = tail.stats.hits;
    expect((await apiPages(t, '&severity=HIGH', 50)).flat().map((e) => e.description)).toEqual(['keeps']);
    expect(tail.stats.hits).toBeGreaterThan(hits);
  });
});
