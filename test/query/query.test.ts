import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestService, event, type TestService, problemOf, type ApiBody } from '../support/service.ts';

type Page = ApiBody<'get', '/api/v1/audit/activities'>;

let t: TestService;
const base = Date.parse('2026-06-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

// 60 events with known attributes, one minute apart, in tenant acme; a few in tenant globex.
const seed = Array.from({ length: 60 }, (_, i) => ({
  timestamp: iso(base + i * 60_000),
  activity_type: ['user.login', 'file.uploaded', 'file.deleted'][i % 3]!,
  severity: ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'][i % 4]!,
  outcome: i % 5 === 0 ? 'failure' : 'success',
  action: ['login', 'file_upload', 'file_delete'][i % 3]!,
  user_id: `user-${i % 6}`,
  resource_type: i % 2 === 0 ? 'file' : 'account',
  resource_id: `r-${i % 10}`,
  description: i % 7 === 0 ? `Quarterly REPORT ${i} exported` : `routine ${i}`,
}));

beforeAll(async () => {
  t = await createTestService();
  expect((await t.post(seed)).status).toBe(202);
  const globex = await t.token({ tenant: 'globex' });
  expect((await t.post([event({ user_id: 'user-1', timestamp: iso(base + 5_000) })], { token: globex })).status).toBe(202);
});
afterAll(async () => t.close());

async function list(query: string): Promise<Page> {
  const res = await t.get(`/api/v1/audit/activities?limit=1000&${query}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return await res.json();
}

const expected = (pred: (e: (typeof seed)[number], i: number) => boolean) =>
  seed.map((e, i) => ({ ...e, i })).filter((e) => pred(e, e.i)).map((e) => e.timestamp).sort().reverse();

describe('GET /api/v1/audit/activities', () => {
  it('returns the tenant’s events newest first, and nothing of another tenant', async () => {
    const page = await list('');
    expect(page.data.map((e) => e.timestamp)).toEqual(expected(() => true));
    expect(page.data.every((e) => e.tenant_id === 'acme')).toBe(true);
    expect(page.next_cursor).toBeNull();
  });

  const cases: Array<[string, (e: (typeof seed)[number]) => boolean]> = [
    ['user_id=user-2', (e) => e.user_id === 'user-2'],
    ['activity_type=file.uploaded', (e) => e.activity_type === 'file.uploaded'],
    ['activity_type=file.uploaded,file.deleted', (e) => e.activity_type !== 'user.login'],
    ['severity=CRITICAL', (e) => e.severity === 'CRITICAL'],
    ['severity=HIGH,CRITICAL', (e) => e.severity === 'HIGH' || e.severity === 'CRITICAL'],
    ['outcome=failure', (e) => e.outcome === 'failure'],
    ['action=file_delete', (e) => e.action === 'file_delete'],
    ['resource_type=file', (e) => e.resource_type === 'file'],
    ['resource_id=r-3', (e) => e.resource_id === 'r-3'],
    [`since=${iso(base + 30 * 60_000)}`, (e) => Date.parse(e.timestamp) >= base + 30 * 60_000],
    [`until=${iso(base + 10 * 60_000)}`, (e) => Date.parse(e.timestamp) < base + 10 * 60_000],
    ['q=quarterly%20report', (e) => e.description.toLowerCase().includes('quarterly report')],
    ['q=100%25', () => false], // LIKE metacharacters match literally
  ];
  for (const [query, pred] of cases) {
    it(`filters by ${query}`, async () => {
      const page = await list(query);
      expect(page.data.map((e) => e.timestamp)).toEqual(expected(pred));
    });
  }

  it('combines filters with AND', async () => {
    const q = `user_id=user-0&severity=LOW,HIGH&since=${iso(base + 6 * 60_000)}&until=${iso(base + 50 * 60_000)}&outcome=success`;
    const want = expected((e) =>
      e.user_id === 'user-0' && ['LOW', 'HIGH'].includes(e.severity) && e.outcome === 'success' &&
      Date.parse(e.timestamp) >= base + 6 * 60_000 && Date.parse(e.timestamp) < base + 50 * 60_000);
    expect(want.length).toBeGreaterThan(0);
    expect((await list(q)).data.map((e) => e.timestamp)).toEqual(want);
  });

  it('refuses bad parameters with 400 problem+json naming the parameter', async () => {
    for (const q of ['limit=0', 'limit=1001', 'severity=URGENT', 'since=yesterday', 'outcome=maybe', 'cursor=not-a-cursor', 'activity_type=Bad Type']) {
      const res = await t.get(`/api/v1/audit/activities?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const body = await problemOf(res);
      expect(body.detail).toContain(q.split('=')[0]);
    }
  });

  it('refuses a tenant_id parameter from a non-admin instead of ignoring it', async () => {
    const res = await t.get('/api/v1/audit/activities?tenant_id=globex');
    expect(res.status).toBe(403);
    const admin = await t.token({ scope: 'audit:admin' });
    const page = (await (await t.get('/api/v1/audit/activities?tenant_id=globex', { token: admin })).json());
    expect(page.data).toHaveLength(1);
    expect(page.data[0]!.tenant_id).toBe('globex');
  });
});

describe('GET /api/v1/audit/activities/{id}', () => {
  it('returns one event, 404 for an unknown or other-tenant id, 400 for a non-UUID', async () => {
    const all = await list('');
    const one = all.data[17]!;
    const res = await t.get(`/api/v1/audit/activities/${one.id}`);
    expect(await res.json()).toEqual(one);
    expect((await t.get('/api/v1/audit/activities/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const globex = await t.token({ tenant: 'globex' });
    const other = await t.get(`/api/v1/audit/activities/${one.id}`, { token: globex });
    expect(other.status).toBe(404);
    expect(other.headers.get('content-type')).toContain('application/problem+json');
    expect((await t.get('/api/v1/audit/activities/nope')).status).toBe(400);
  });
});

describe('GET /api/v1/audit/activities/recent', () => {
  it('returns the last days, newest first, as an array', async () => {
    const recentTs = Date.now() - 3_600_000;
    expect((await t.post([event({ timestamp: iso(recentTs), user_id: 'user-r' }), event({ timestamp: iso(recentTs + 1000), user_id: 'user-s' })])).status).toBe(202);
    const res = await t.get('/api/v1/audit/activities/recent?days=1');
    const body = await res.json();
    expect(Array.isArray(body)).toBe(true);
    expect(body.map((e) => e.user_id)).toEqual(['user-s', 'user-r']);
    const byUser = await (await t.get('/api/v1/audit/activities/recent?days=1&user_id=user-r')).json();
    expect(byUser).toHaveLength(1);
    const limited = await (await t.get('/api/v1/audit/activities/recent?days=1&limit=1')).json();
    expect(limited).toHaveLength(1);
  });
});
