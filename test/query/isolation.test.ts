// Tenant isolation: two tenants with interleaved data that share user ids, actions and resources.
// For every read endpoint and filter, tenant B sees none of tenant A's rows, also when every
// parameter carries an SQL-injection string. Everything tenant A owns is marked "alpha" (its
// tenant id, A-only users, resources, actions, types, descriptions, details), so a leak shows
// up in any response body, whatever its shape (list, export, summaries added later).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiEndpoints } from '../support/endpoints.ts';
import { bodyOf, createTestService, type TestService } from '../support/service.ts';

const A = 'alpha-corp';
const B = 'beta-corp';
const LEAK = /alpha/i;
/** Text that only A's stored events hold (never part of a request). */
const A_DATA = /ALPHA private|ALPHA twin|alpha-mark/;
const PROBLEM_KEYS = ['type', 'title', 'status', 'detail', 'instance', 'request_id', 'errors'];
const SHARED_ID = '00000000-0000-4000-8000-00000000c0de';

let t: TestService;
let tokenA: string;
let tokenB: string;
let adminB: string;
const idsA: string[] = [];
const base = Date.parse('2026-02-01T00:00:00.000Z');

beforeAll(async () => {
  t = await createTestService();
  tokenA = await t.token({ tenant: A, sub: 'shared-user', scope: 'audit:read audit:write' });
  tokenB = await t.token({ tenant: B, sub: 'shared-user', scope: 'audit:read audit:write' });
  adminB = await t.token({ tenant: B, sub: 'root', scope: 'audit:admin' });
  const eventsA: unknown[] = [];
  const eventsB: unknown[] = [];
  for (let i = 0; i < 60; i++) {
    // Interleaved in time: A at even minutes, B at odd minutes, same shared attributes.
    const shared = {
      activity_type: i % 3 ? 'user.login' : 'file.uploaded', action: i % 2 ? 'login' : 'upload',
      severity: ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'][i % 4], outcome: i % 5 ? 'success' : 'failure',
      resource_type: 'file', resource_id: `f-${i % 4}`, user_id: `u-${i % 3}`,
    };
    eventsA.push({ ...shared, timestamp: new Date(base + 2 * i * 60_000).toISOString(), description: `ALPHA private note ${i}`, details: { mark: 'alpha-mark', n: i } });
    eventsB.push({ ...shared, timestamp: new Date(base + (2 * i + 1) * 60_000).toISOString(), description: `beta note ${i}`, details: { mark: 'beta', n: i } });
  }
  // A-only values: filtering on them from B must find nothing.
  eventsA.push({ activity_type: 'alpha.only', action: 'alpha_action', user_id: 'alpha-user', resource_type: 'alpha_res', resource_id: 'alpha-1', timestamp: new Date(base).toISOString() });
  // The same event id in both tenants (idempotency keys are per tenant).
  eventsA.push({ id: SHARED_ID, activity_type: 'user.login', action: 'login', description: 'ALPHA twin', timestamp: new Date(base + 5000).toISOString() });
  eventsB.push({ id: SHARED_ID, activity_type: 'user.login', action: 'login', description: 'beta twin', timestamp: new Date(base + 6000).toISOString() });
  const resA = await t.post(eventsA, { token: tokenA });
  expect(resA.status).toBe(202);
  idsA.push(...(await resA.json()).ids);
  expect((await t.post(eventsB, { token: tokenB })).status).toBe(202);
});
afterAll(async () => t.close());

/** Every row in a JSON list/array/NDJSON/CSV body belongs to B, and nothing of A appears. */
async function assertOnlyB(res: Response, label: string): Promise<number> {
  const text = await res.text();
  if (res.status !== 200) {
    // A refusal is a problem document: no rows, and no stored text of A (it may echo the input,
    // which names A's tenant in some injection strings).
    expect(res.headers.get('content-type'), label).toBe('application/problem+json');
    const problem = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(problem).filter((k) => !PROBLEM_KEYS.includes(k)), label).toEqual([]);
    expect(text, label).not.toMatch(A_DATA);
    return 0;
  }
  expect(text, label).not.toMatch(LEAK);
  const type = res.headers.get('content-type') ?? '';
  let rows: Array<{ tenant_id: string }> = [];
  if (type.startsWith('application/json')) {
    const body = JSON.parse(text) as unknown;
    if (Array.isArray(body)) rows = body as typeof rows;
    else if (body && typeof body === 'object' && Array.isArray((body as { data?: unknown }).data)) rows = (body as { data: typeof rows }).data;
    else if (body && typeof body === 'object' && 'tenant_id' in body) rows = [body as { tenant_id: string }];
  } else if (type.startsWith('application/x-ndjson')) {
    rows = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { tenant_id: string });
  } else if (type.startsWith('text/csv')) {
    const lines = text.split('\r\n').filter(Boolean).slice(1);
    for (const l of lines) expect(l.split(',')[3], label).toBe(`"${B}"`);
    return lines.length;
  }
  for (const r of rows) expect(r.tenant_id, label).toBe(B);
  return rows.length;
}

const get = <P extends string>(path: P, token = tokenB) => t.get(path, { token });

const FILTERS: Record<string, string[]> = {
  user_id: ['u-1', 'alpha-user'],
  activity_type: ['user.login', 'alpha.only', 'user.login,file.uploaded'],
  severity: ['HIGH', 'LOW,CRITICAL'],
  outcome: ['failure', 'success'],
  action: ['login', 'alpha_action'],
  resource_type: ['file', 'alpha_res'],
  resource_id: ['f-1', 'alpha-1'],
  since: ['2026-02-01T00:00:00Z', '2026-02-01T01:00:00Z'],
  until: ['2026-02-01T01:00:00Z', '2030-01-01T00:00:00Z'],
  q: ['note', 'ALPHA', 'private', 'twin'],
};

describe('tenant B never sees tenant A', () => {
  it('positive control: A and an admin naming A do see the alpha rows', async () => {
    expect(await (await get('/api/v1/audit/activities?limit=1000', tokenA)).text()).toMatch(LEAK);
    expect(await (await get(`/api/v1/audit/export?tenant_id=${A}`, adminB)).text()).toMatch(LEAK);
    expect((await get(`/api/v1/audit/activities/${idsA[0]}?tenant_id=${A}`, adminB)).status).toBe(200);
  });

  it('list: no filter, every filter, and full cursor pagination', async () => {
    expect(await assertOnlyB(await get('/api/v1/audit/activities?limit=1000'), 'list')).toBe(61);
    for (const [name, values] of Object.entries(FILTERS)) {
      for (const [i, v] of values.entries()) {
        const n = await assertOnlyB(await get(`/api/v1/audit/activities?${name}=${encodeURIComponent(v)}&limit=1000`), `list ${name}=${v}`);
        // The first value of each filter matches rows in both tenants: B must get its own.
        if (i === 0) expect(n, `list ${name}=${v}`).toBeGreaterThan(0);
      }
    }
    let cursor: string | null = null;
    let seen = 0;
    do {
      const res: Response = await get(`/api/v1/audit/activities?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      const page = await bodyOf(res.clone(), 'get', '/api/v1/audit/activities');
      seen += await assertOnlyB(res, `page after ${cursor}`);
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toBe(61);
  });

  it('recent: every parameter', async () => {
    expect(await assertOnlyB(await get('/api/v1/audit/activities/recent?days=3660&limit=1000'), 'recent')).toBe(61);
    for (const u of ['u-1', 'alpha-user']) await assertOnlyB(await get(`/api/v1/audit/activities/recent?days=3660&user_id=${u}`), `recent user_id=${u}`);
  });

  it('by id: A\'s ids are 404 for B; a shared id returns B\'s own event', async () => {
    for (const id of idsA) {
      const res = await get(`/api/v1/audit/activities/${id}`);
      if (id === SHARED_ID) {
        expect(res.status).toBe(200);
        expect(await res.clone().json()).toMatchObject({ tenant_id: B, description: 'beta twin' });
      } else {
        expect(res.status, id).toBe(404);
      }
      await assertOnlyB(res, `by id ${id}`);
    }
  });

  it('export, NDJSON and CSV: no filter and every filter', async () => {
    for (const format of ['ndjson', 'csv']) {
      expect(await assertOnlyB(await get(`/api/v1/audit/export?format=${format}`), `export ${format}`)).toBe(61);
      for (const [name, values] of Object.entries(FILTERS)) {
        for (const [i, v] of values.entries()) {
          const n = await assertOnlyB(await get(`/api/v1/audit/export?format=${format}&${name}=${encodeURIComponent(v)}`), `export ${format} ${name}=${v}`);
          if (i === 0) expect(n, `export ${format} ${name}=${v}`).toBeGreaterThan(0);
        }
      }
    }
  });

  it('any other read endpoint (summary, when present) shows nothing of A', async () => {
    const known = new Set(['/api/v1/audit/activities', '/api/v1/audit/activities/recent', '/api/v1/audit/activities/{id}', '/api/v1/audit/export']);
    for (const e of apiEndpoints(t.app)) {
      if (e.method !== 'GET' || known.has(e.template) || /retention|archives|erasure|integrity/.test(e.template)) continue;
      await assertOnlyB(await get(e.url), e.template);
      await assertOnlyB(await get(`${e.url}?days=3660`), `${e.template}?days=3660`);
    }
  });
});

const INJECTIONS = [
  "' OR '1'='1",
  "' OR 1=1 --",
  `${B}' OR tenant_id='${A}`,
  `x' OR tenant_id != '`,
  "') OR ('1'='1",
  "\\' OR 1=1 -- ",
  '" OR ""="',
  '%',
  '_',
  "%' OR '%'='",
  '*/ OR 1=1 /*',
  '{tenant:String}',
  `{tenant:String}' OR tenant_id='${A}`,
  '1; DROP TABLE audit_activities',
  `1 UNION ALL SELECT * FROM audit_activities WHERE tenant_id='${A}'`,
  '\u0000',
  'ʼ OR 1=1 --',
  '\\',
];

describe('SQL-injection strings in every parameter', () => {
  const LIST_PARAMS = [...Object.keys(FILTERS), 'limit', 'cursor', 'tenant_id'];
  const cases: Array<[string, string[]]> = [
    ['/api/v1/audit/activities', LIST_PARAMS],
    ['/api/v1/audit/activities/recent', ['days', 'limit', 'user_id', 'tenant_id']],
    ['/api/v1/audit/export', [...LIST_PARAMS.filter((p) => p !== 'cursor'), 'format']],
  ];

  for (const [path, params] of cases) {
    it(`${path}: 200 with B's rows only, or 400/403; never 500, never A`, async () => {
      const statuses = new Set<number>();
      for (const param of params) {
        for (const inj of INJECTIONS) {
          const res = await get(`${path}?${param}=${encodeURIComponent(inj)}`);
          const label = `${path}?${param}=${JSON.stringify(inj)}`;
          statuses.add(res.status);
          expect([200, 400, 403], label).toContain(res.status);
          // A malformed tenant id is refused as such (400) before the question of whose it is (403).
          if (param === 'tenant_id') expect([400, 403], label).toContain(res.status);
          await assertOnlyB(res, label);
        }
      }
      expect(statuses.has(200)).toBe(true);
    });
  }

  it('injection strings in the path id and in an admin tenant_id', async () => {
    for (const inj of INJECTIONS) {
      const res = await get(`/api/v1/audit/activities/${encodeURIComponent(inj)}`);
      expect([400, 404], inj).toContain(res.status);
      await assertOnlyB(res, `id ${inj}`);
      // An admin's tenant_id is bound as a value: an injection names a tenant that does not exist.
      const admin = await get(`/api/v1/audit/activities?tenant_id=${encodeURIComponent(inj)}`, adminB);
      expect([200, 400], inj).toContain(admin.status);
      if (admin.status === 200) expect((await admin.json()).data, inj).toEqual([]);
    }
  });

  it('the table is intact afterwards', async () => {
    expect(await t.count()).toBe(61 + 62);
  });
});
