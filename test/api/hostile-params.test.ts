// Integer (and integer-shaped) query parameters under fuzzing: every value the client cannot use
// is a 400 problem+json naming the parameter, never a 5xx; usable spellings (leading zeros) work;
// nothing is stored by any of it. Issue 16, item 6: `archives?cursor=9007199254740992` was a 500.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestService, event, problemOf, type TestService } from '../support/service.ts';

let t: TestService;
let admin: string;
beforeAll(async () => {
  t = await createTestService();
  admin = await t.token({ scope: 'audit:read audit:write audit:admin', sub: 'root' });
  expect((await t.post([event(), event({ severity: 'HIGH' })])).status).toBe(202);
});
afterAll(async () => t.close());

/** Values no integer parameter can use. */
const HOSTILE = [
  '9007199254740992', '9007199254740993', '18446744073709551616', '99999999999999999999999999',
  '-1', '-0', '1.5', '1.0', '0x10', '0b11', '0o7', '1e2', '1E3', 'Infinity', '-Infinity', 'NaN',
  '', ' ', ' 5', '5 ', '+5', '5abc', 'abc', '٣', '５', '1_000', '1,000', '%00', 'null', 'true', '[1]',
];

/** Each integer parameter of each read route, with the range its schema declares. */
const PARAMS: Array<{ path: string; name: string; max: number; admin?: boolean }> = [
  { path: '/api/v1/audit/activities', name: 'limit', max: 1000 },
  { path: '/api/v1/audit/activities/recent', name: 'days', max: 3660 },
  { path: '/api/v1/audit/activities/recent', name: 'limit', max: 1000 },
  { path: '/api/v1/audit/summary', name: 'days', max: 400 },
  { path: '/api/v1/audit/summary', name: 'top', max: 100 },
  { path: '/api/v1/audit/export', name: 'limit', max: 100_000_000 },
  { path: '/api/v1/audit/archives', name: 'limit', max: 1000, admin: true },
  { path: '/api/v1/audit/archives', name: 'cursor', max: Number.MAX_SAFE_INTEGER, admin: true },
];

async function read(path: string, params: Record<string, string>, asAdmin = false): Promise<Response> {
  const qs = new URLSearchParams(params).toString();
  const res = await t.get(`${path}?${qs}`, asAdmin ? { token: admin } : {});
  return res;
}

async function expectProblem(res: Response, name: string, what: string): Promise<void> {
  expect(res.status, what).toBe(400);
  expect(res.headers.get('Content-Type'), what).toMatch(/^application\/problem\+json/);
  const body = await problemOf(res);
  expect(body.status).toBe(400);
  expect(body.errors?.map((e) => e.field), what).toContain(name);
}

describe('integer query parameters', () => {
  it('archives?cursor=2^53 (and anything past a safe integer) is a 400, not a 500', async () => {
    for (const v of ['9007199254740992', '999999999999999999', '18446744073709551615']) {
      await expectProblem(await read('/api/v1/audit/archives', { cursor: v }, true), 'cursor', v);
    }
    const last = await read('/api/v1/audit/archives', { cursor: String(Number.MAX_SAFE_INTEGER) }, true);
    expect(last.status).toBe(200);
    expect(await last.json()).toEqual({ data: [], next_cursor: null });
  });

  it('every hostile spelling of every integer parameter is a 400 naming it', async () => {
    const before = await t.count();
    for (const p of PARAMS) {
      const hostile = [...HOSTILE, String(p.max + 1), '0', ...(p.name === 'cursor' ? [] : ['00'])]
        .filter((v) => !(p.name === 'cursor' && v === '0')); // cursor 0 is a valid "from the start"
      for (const v of hostile) {
        const res = await read(p.path, { [p.name]: v }, p.admin);
        await expectProblem(res, p.name, `${p.path}?${p.name}=${JSON.stringify(v)}`);
        await res.body?.cancel().catch(() => {});
      }
    }
    expect(await t.count()).toBe(before);
  });

  it('the bounds themselves and leading zeros are accepted', async () => {
    for (const p of PARAMS) {
      for (const v of ['1', `000${p.name === 'cursor' ? '0' : '1'}`, String(p.max)]) {
        const res = await read(p.path, { [p.name]: v }, p.admin);
        expect(res.status, `${p.path}?${p.name}=${v}`).toBe(200);
        await res.text();
      }
    }
  });

  it('a parameter given twice, or with an array-style name, is refused, not a 500', async () => {
    for (const p of PARAMS) {
      const twice = await t.get(`${p.path}?${p.name}=5&${p.name}=6`, p.admin ? { token: admin } : {});
      expect(twice.status, `${p.path} ${p.name} twice`).toBeLessThan(500);
      await twice.text();
      const arr = await t.get(`${p.path}?${p.name}[]=5`, p.admin ? { token: admin } : {});
      expect(arr.status, `${p.path} ${p.name}[]`).toBe(400);
      await arr.text();
    }
  });
});

describe('integer-shaped parameters', () => {
  it('a list cursor carrying a huge or negative timestamp is refused or served, never a 5xx', async () => {
    const cursor = (ts: unknown) => Buffer.from(JSON.stringify([1, ts, '00000000-0000-4000-8000-000000000000'])).toString('base64url');
    for (const ts of [Number.MAX_SAFE_INTEGER, 9007199254740992, 1e300, -1, 1.5, 253402300800000, 0, '1']) {
      const res = await t.get(`/api/v1/audit/activities?cursor=${cursor(ts)}`);
      expect(res.status, `cursor ts ${ts}`).toBeLessThan(500);
      if (res.status >= 400) expect(res.headers.get('Content-Type')).toMatch(/^application\/problem\+json/);
      await res.text();
    }
  });

  it('since/until at the edges of the calendar and integrity durations are never a 5xx', async () => {
    const dates = ['0000-01-01', '0001-01-01T00:00:00Z', '1900-01-01', '1969-12-31T23:59:59.999Z', '2299-12-31T23:59:59Z', '9999-12-31T23:59:59.999999999Z', '2026-02-30', '99999-01-01'];
    for (const d of dates) {
      for (const name of ['since', 'until']) {
        for (const path of ['/api/v1/audit/activities', '/api/v1/audit/export']) {
          const res = await read(path, { [name]: d });
          expect(res.status, `${path}?${name}=${d}`).toBeLessThan(500);
          await res.text();
        }
      }
    }
    for (const s of ['999999d', '9999999d', '0m', '-5d', '1.5h', '0x10d', '1e3d', '', ...dates]) {
      const res = await read('/api/v1/audit/integrity', { since: s }, true);
      expect(res.status, `integrity?since=${s}`).toBeLessThan(500);
      if (res.status >= 400) expect(res.headers.get('Content-Type')).toMatch(/^application\/problem\+json/);
      await res.text();
    }
  });
});
