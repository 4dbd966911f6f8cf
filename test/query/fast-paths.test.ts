// The fast paths of issue 11 answer exactly what the plain ones do: pages found window by window
// equal the single unbounded query, ids are found by the id-time index whatever their version,
// and ids the service mints skip the lookup without letting a duplicate in.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRow } from '../../src/event/model.ts';
import { uuidv7 } from '../../src/event/ids.ts';
import { insertEvents } from '../../src/store/activity-rows.ts';
import { existingKeys, listEvents, queryPage, type ActivityFilters, type Cursor } from '../../src/store/activities.ts';
import { createTestService, event, type TestService } from '../support/service.ts';

const DAY = 86_400_000;

function row(over: Partial<EventRow> & Pick<EventRow, 'tenant_id' | 'timestamp'>): EventRow {
  return {
    id: uuidv7(over.timestamp),
    received_at: over.timestamp + 100,
    activity_type: 'user.login',
    severity: 'LOW',
    action: 'login',
    outcome: 'success',
    resource_type: 'session',
    user_agent: 'test',
    user_id: 'u1',
    resource_id: 'r1',
    ip_address: '127.0.0.1',
    request_id: 'req',
    description: 'signed in',
    details: '{}',
    ...over,
  };
}

describe('windowed pages', () => {
  let t: TestService;
  const now = Date.now();

  beforeAll(async () => {
    t = await createTestService();
    // A busy tenant (events every few minutes for 120 days, some sharing a timestamp), a sparse
    // one (one event a week), and rare values that only old events carry.
    const rows: EventRow[] = [];
    for (let i = 0; i < 6000; i++) {
      const ts = now - Math.floor(i * 29 * 60_000 * (1 + (i % 7) / 10)) - (i % 5 === 0 ? 0 : 1);
      rows.push(row({
        tenant_id: 'busy',
        timestamp: ts,
        user_id: `u${i % 40}`,
        severity: i % 97 === 0 ? 'CRITICAL' : 'LOW',
        activity_type: i > 5000 && i % 50 === 0 ? 'security.alert' : 'user.login',
        description: i % 400 === 0 ? 'needle in a haystack' : 'signed in',
      }));
    }
    for (let i = 0; i < 20; i++) rows.push(row({ tenant_id: 'sparse', timestamp: now - i * 7 * DAY }));
    // The same timestamp for several rows: the cursor's id tie-break must hold across windows.
    for (let i = 0; i < 5; i++) rows.push(row({ tenant_id: 'busy', timestamp: now - 2 * DAY, user_id: 'tie' }));
    await insertEvents(t.services.store, rows);
  });
  afterAll(() => t.close());

  const cases: Array<[string, string, ActivityFilters]> = [
    ['feed', 'busy', {}],
    ['sparse tenant', 'sparse', {}],
    ['one user', 'busy', { user_id: 'u7' }],
    ['rare severity', 'busy', { severity: ['CRITICAL'] }],
    ['old rare type', 'busy', { activity_type: ['security.alert'] }],
    ['text', 'busy', { q: 'needle' }],
    ['nothing matches', 'busy', { user_id: 'nobody' }],
    ['since', 'busy', { since: now - 10 * DAY }],
    ['until', 'busy', { until: now - 30 * DAY }],
    ['since and until', 'busy', { since: now - 40 * DAY, until: now - 39 * DAY }],
  ];

  for (const [name, tenant, filters] of cases) {
    it(`returns the same pages as one unbounded query: ${name}`, async () => {
      const store = t.services.store;
      for (const limit of [1, 7, 50, 1000]) {
        let cursor: Cursor | undefined;
        for (let page = 0; page < 4; page++) {
          const windowed = await listEvents(store, tenant, filters, limit, cursor);
          const plain = await queryPage(store, tenant, filters, limit, cursor);
          expect(windowed.map((e) => e.id)).toEqual(plain.map((e) => e.id));
          const last = plain.at(-1);
          if (plain.length < limit || !last) break;
          cursor = { ts: Date.parse(last.timestamp), id: last.id };
        }
      }
    });
  }

  it('walks every row of a tenant exactly once through the cursor', async () => {
    const seen = new Set<string>();
    let cursor: Cursor | undefined;
    for (;;) {
      const page = await listEvents(t.services.store, 'busy', { user_id: 'tie' }, 2, cursor);
      for (const e of page) {
        expect(seen.has(e.id)).toBe(false);
        seen.add(e.id);
      }
      if (page.length < 2) break;
      cursor = { ts: Date.parse(page.at(-1)!.timestamp), id: page.at(-1)!.id };
    }
    expect(seen.size).toBe(5);
  });
});

describe('id lookups', () => {
  let t: TestService;
  beforeAll(async () => {
    t = await createTestService();
  });
  afterAll(() => t.close());

  it('stores a client id once whatever its version or how far its embedded time is from the timestamp', async () => {
    const v4 = crypto.randomUUID();
    const farV7 = uuidv7(Date.now() - 3 * 365 * DAY); // minted long before the event's time
    const oldTimestamp = new Date(Date.now() - 400 * DAY).toISOString();
    for (const id of [v4, farV7]) {
      for (const timestamp of [undefined, oldTimestamp]) {
        const body = event({ id, ...(timestamp ? { timestamp } : {}) });
        expect((await t.post(body)).status).toBe(202);
        expect((await t.post([body, body])).status).toBe(202);
      }
    }
    expect(await t.count()).toBe(2);
    const found = await existingKeys(t.services.store, [
      row({ tenant_id: 'acme', timestamp: Date.now(), id: v4 }),
      row({ tenant_id: 'acme', timestamp: Date.now(), id: farV7 }),
      row({ tenant_id: 'other', timestamp: Date.now(), id: v4 }),
    ]);
    expect([...found].sort()).toEqual([`acme\u0000${farV7}`, `acme\u0000${v4}`].sort());
  });

  it('stores a client id once when requests carrying it land in batches that overlap in the writer pipeline', async () => {
    const before = await t.count();
    const shared = Array.from({ length: 3 }, () => crypto.randomUUID());
    // A steady stream of requests: while one batch inserts, the next one looks its ids up.
    const posts: Array<Promise<Response>> = [];
    for (let i = 0; i < 60; i++) {
      posts.push(t.post([event({ id: shared[i % 3] }), ...Array.from({ length: 300 }, () => event())]));
      await new Promise((r) => setTimeout(r, 3));
    }
    expect((await Promise.all(posts)).every((r) => r.status === 202)).toBe(true);
    expect(await t.count()).toBe(before + 3 + 60 * 300);
  });

  it('stores every event without an id (minted ids skip the lookup) and still refuses client duplicates in the same flush', async () => {
    const before = await t.count();
    const id = crypto.randomUUID();
    const posts = await Promise.all([
      t.post(Array.from({ length: 30 }, () => event())),
      t.post(event({ id })),
      t.post(event({ id })),
      t.post(Array.from({ length: 10 }, () => event())),
    ]);
    expect(posts.map((r) => r.status)).toEqual([202, 202, 202, 202]);
    expect(await t.count()).toBe(before + 41);
  });
});
