import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyOf, createTestService, event, type TestService, type ApiBody } from '../support/service.ts';

type Page = ApiBody<'get', '/api/v1/audit/activities'>;

let t: TestService;
const base = Date.parse('2026-05-01T00:00:00.000Z');

beforeAll(async () => {
  t = await createTestService();
  // 2,500 events; many share a timestamp (ties must still page exactly).
  const events = Array.from({ length: 2500 }, (_, i) => event({ timestamp: new Date(base + Math.floor(i / 7) * 1000).toISOString(), description: `e${i}` }));
  for (let i = 0; i < events.length; i += 1000) expect((await t.post(events.slice(i, i + 1000))).status).toBe(202);
});
afterAll(async () => t.close());

async function pageThrough(during?: (pageNo: number) => Promise<void>): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const q: string = `/api/v1/audit/activities?limit=100&until=${new Date(base + 86_400_000).toISOString()}${cursor ? `&cursor=${cursor}` : ''}`;
    const res = await t.get(q);
    expect(res.status).toBe(200);
    const page = await bodyOf(res, 'get', '/api/v1/audit/activities');
    ids.push(...page.data.map((e) => e.id));
    cursor = page.next_cursor;
    pages++;
    if (during) await during(pages);
  } while (cursor);
  return { ids, pages };
}

describe('keyset cursor', () => {
  it('returns 2,500 events in pages of 100, each exactly once, newest first', async () => {
    const { ids, pages } = await pageThrough();
    expect(ids).toHaveLength(2500);
    expect(new Set(ids).size).toBe(2500);
    expect(pages).toBe(26); // 25 full pages, then an empty one ends the walk
  });

  it('stays exact while new events arrive, including late ones inside the range being paged', async () => {
    let added = 0;
    const { ids } = await pageThrough(async (pageNo) => {
      // New events: some newer than everything, some with old timestamps amid already-paged rows.
      const fresh = [
        event({ description: `new-${pageNo}` }),
        event({ timestamp: new Date(base + pageNo * 13_000).toISOString(), description: `late-${pageNo}` }),
      ];
      expect((await t.post(fresh)).status).toBe(202);
      added += fresh.length;
    });
    expect(added).toBeGreaterThan(0);
    // Every event that existed when paging began appears exactly once; no duplicates at all.
    expect(new Set(ids).size).toBe(ids.length);
    const original = await pageOriginal();
    for (const id of original) expect(ids).toContain(id);
  });
});

async function pageOriginal(): Promise<string[]> {
  const rows = await t.services.store.query<{ event_id: string }>(
    `SELECT toString(id) AS event_id FROM ${t.services.store.table('audit_activities')} WHERE description LIKE 'e%'`,
  );
  expect(rows).toHaveLength(2500);
  return rows.map((r) => r.event_id);
}
