// The in-memory read path under load, on the real engine: while events are posted, a subject is
// erased and retention deletes old events, every read (feed, by user, by id, served by the tail
// and the pending rows) holds every event acknowledged before it began, and none that was erased
// or deleted before it began; once quiet, every page equals the store's. The summary cache
// (src/analytics/summary-cache.ts) equals the views' and the raw rows' summary throughout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/auth/jwt.ts';
import { summarizeFromRaw } from '../support/summary-reference.ts';
import { summarize } from '../../src/analytics/summary.ts';
import { queryPage, type ActivityFilters, type Cursor } from '../../src/store/activities.ts';
import { bodyOf, createTestService, event, TEST_SECRET, type ApiBody, type TestService } from '../support/service.ts';

const DAY = 86_400_000;
type Page = ApiBody<'get', '/api/v1/audit/activities'>;
type Ev = Page['data'][number];

async function pages(t: TestService, token: string, query: string, limit: number): Promise<Ev[]> {
  const out: Ev[] = [];
  let cursor: string | null = null;
  do {
    const res = await t.get(`/api/v1/audit/activities?limit=${limit}${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token });
    expect(res.status).toBe(200);
    const page: Page = await res.json();
    out.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

async function storeAll(t: TestService, tenant: string, f: ActivityFilters, limit: number): Promise<string[]> {
  const out: string[] = [];
  let cursor: Cursor | undefined;
  for (;;) {
    const page = await queryPage(t.services.store, tenant, f, limit, cursor);
    out.push(...page.map((e) => e.id));
    if (page.length < limit) return out;
    cursor = { ts: Date.parse(page.at(-1)!.timestamp), id: page.at(-1)!.id };
  }
}

describe('read cache under concurrent writes, an erasure and a retention run', () => {
  let t: TestService;
  let token: string;
  beforeAll(async () => {
    t = await createTestService({ AUDIT_READ_CACHE_MB: '64', AUDIT_RETENTION_LOW: '30', AUDIT_RETENTION_MEDIUM: '60', AUDIT_RETENTION_HIGH: '90', AUDIT_RETENTION_CRITICAL: '180' });
    token = await mintToken(TEST_SECRET, { tenant: 'live', scope: 'audit:read audit:write audit:admin', sub: 'ops' });
  });
  afterAll(async () => t.close());

  it('no read misses an acknowledged event or shows an erased subject or a deleted event, and quiet pages equal the store', async () => {
    const now = Date.now();
    const old = Array.from({ length: 60 }, (_, i) => event({ severity: 'LOW', user_id: `u${i % 3}`, timestamp: new Date(now - 40 * DAY + i * 1000).toISOString() }));
    const victim = Array.from({ length: 40 }, (_, i) => event({ severity: 'HIGH', user_id: 'victim', timestamp: new Date(now - 2 * DAY + i * 1000).toISOString() }));
    const res = await t.post([...old, ...victim], { token });
    expect(res.status).toBe(202);
    const oldIds = new Set((await res.json()).ids.slice(0, old.length));
    await t.count();
    const tail = t.services.writer.tail!;
    // Warm every suffix the readers use: the deletions must reach memory, not just the store.
    for (const q of ['', '&user_id=victim', '&severity=LOW', '&user_id=u1']) await pages(t, token, q, 50);
    const hitsBefore = tail.stats.hits;

    const acked: Array<{ id: string; ts: number; user: string }> = [];
    let erasedAt = Infinity; // when the erasure answered: reads begun after must not show 'victim'
    let deletedAt = Infinity; // when the retention run answered: reads begun after must not show old ids
    let writing = true;
    let checked = 0;
    let writesEnded = Infinity;
    const writes = (async () => {
      // Posting goes on until the erasure and the retention run have both answered.
      for (let round = 0; round < 10 || deletedAt === Infinity; round++) {
        await new Promise((r) => setTimeout(r, 10));
        const batch = Array.from({ length: 8 }, (_, i) => event({ severity: i % 2 ? 'LOW' : 'HIGH', user_id: `u${(round + i) % 3}` }));
        const r = await t.post(batch, { token });
        expect(r.status).toBe(202);
        const ids = (await r.json()).ids;
        ids.forEach((id, i) => acked.push({ id, ts: Date.parse(String(batch[i]!.timestamp ?? new Date().toISOString())), user: String(batch[i]!.user_id) }));
      }
      writing = false;
      writesEnded = performance.now();
    })();
    const mutations = (async () => {
      await new Promise((r) => setTimeout(r, 30)); // a few posts first
      const er = await t.app.request('/api/v1/audit/erasure', {
        method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ user_id: 'victim' }),
      });
      expect(er.status).toBe(200);
      erasedAt = performance.now();
      const report = await t.services.retention.run();
      expect(report.totals.deleted_rows).toBeGreaterThanOrEqual(old.length / 2);
      deletedAt = performance.now();
    })();
    const reads = (async () => {
      while (writing || deletedAt === Infinity) {
        // app.request() answered from memory never leaves the microtask queue: let I/O run.
        await new Promise((r) => setImmediate(r));
        const began = performance.now();
        const before = acked.slice(); // acknowledged before this read began
        const feed = await pages(t, token, '', 1000);
        const ids = new Set(feed.map((e) => e.id));
        for (const a of before) expect(ids.has(a.id)).toBe(true);
        if (began > erasedAt) expect(feed.some((e) => e.user_id === 'victim')).toBe(false);
        if (began > deletedAt) expect(feed.some((e) => oldIds.has(e.id))).toBe(false);
        const u1 = new Set((await pages(t, token, '&user_id=u1', 50)).map((e) => e.id));
        for (const a of before) if (a.user === 'u1') expect(u1.has(a.id)).toBe(true);
        const last = before.at(-1);
        if (last) expect((await t.get(`/api/v1/audit/activities/${last.id}`, { token })).status).toBe(200);
        if (began > erasedAt) expect(await pages(t, token, '&user_id=victim', 50)).toEqual([]);
        checked++;
      }
    })();
    await Promise.all([writes, mutations, reads]);
    expect(checked).toBeGreaterThan(3);
    expect(erasedAt).toBeLessThan(writesEnded);
    await t.count();
    for (const [q, f] of [['', {}], ['&user_id=u1', { user_id: 'u1' }], ['&severity=LOW', { severity: ['LOW'] }], ['&user_id=victim', { user_id: 'victim' }]] as Array<[string, ActivityFilters]>) {
      expect((await pages(t, token, q, 37)).map((e) => e.id)).toEqual(await storeAll(t, 'live', f, 37));
    }
    expect(tail.stats.hits).toBeGreaterThan(hitsBefore); // memory answered some of it (this test can fail)
  });
});

describe('summary cache', () => {
  let t: TestService;
  let token: string;
  beforeAll(async () => {
    t = await createTestService({ AUDIT_READ_CACHE_MB: '64' });
    token = await mintToken(TEST_SECRET, { tenant: 'sum', scope: 'audit:read audit:write audit:admin', sub: 'ops' });
  });
  afterAll(async () => t.close());

  const viaApi = async (q: string) => {
    const res = await t.get(`/api/v1/audit/summary${q}`, { token });
    expect(res.status).toBe(200);
    return bodyOf(res, 'get', '/api/v1/audit/summary');
  };
  const post = async (n: number, user: (i: number) => string, daysAgo = 0) => {
    const body = Array.from({ length: n }, (_, i) => event({
      user_id: user(i), outcome: i % 5 ? 'success' : 'failure', severity: ['LOW', 'HIGH'][i % 2],
      resource_type: 'file', resource_id: `f${i % 7}`, timestamp: new Date(Date.now() - daysAgo * DAY - i).toISOString(),
    }));
    expect((await t.post(body, { token })).status).toBe(202);
  };
  const expectExact = async (days: number, top: number) => {
    const got = await viaApi(`?days=${days}&top=${top}`);
    const now = Date.parse(`${got.to}T12:00:00Z`);
    expect(got).toEqual(await summarize(t.services.store, { tenant: 'sum', days, top, now }));
    expect(got).toEqual(await summarizeFromRaw(t.services.store, { tenant: 'sum', days, top, now }));
  };

  it('equals the views and the raw rows while events are written, as the top users change, and after an erasure', async () => {
    const cache = t.services.summaries!;
    expect(cache).toBeDefined();
    await post(300, (i) => `user${i % 60}`, 2);
    await expectExact(7, 3);
    const hits = cache.stats.hits;
    await expectExact(7, 3);
    expect(cache.stats.hits).toBeGreaterThan(hits); // answered from memory (this test can fail)
    // A user outside the loaded list overtakes the top: the bound sends it back to the views.
    await post(120, () => 'newcomer');
    await expectExact(7, 3);
    // Concurrent posts and summary reads; once quiet, memory still equals both references.
    await Promise.all([
      (async () => { for (let r = 0; r < 10; r++) await post(30, (i) => `user${(i * 7 + r) % 90}`); })(),
      (async () => { for (let r = 0; r < 10; r++) await viaApi('?days=7&top=3'); })(),
    ]);
    await t.count();
    await expectExact(7, 3);
    await expectExact(30, 10);
    const er = await t.app.request('/api/v1/audit/erasure', {
      method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ user_id: 'newcomer' }),
    });
    expect(er.status).toBe(200);
    const after = await viaApi('?days=7&top=3');
    expect(after.top_users.some((u) => u.user_id === 'newcomer')).toBe(false);
    await expectExact(7, 3);
  });
});
