// Issue 16, item 10: write abuse. A per-tenant budget in events per minute
// (AUDIT_WRITE_RATE_LIMIT) on every ingest path, 429 + Retry-After past it and nothing stored;
// and a maximum token lifetime (AUDIT_JWT_MAX_TTL): a token living longer, or without iat/exp,
// is a 401 and writes nothing.
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { mintToken } from '../../src/auth/jwt.ts';
import { writeRateLimit } from '../../src/auth/rate-limit.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { main } from '../../src/index.ts';
import { bodyOf, createTestService, event, TEST_SECRET, testDataDir, type TestService } from '../support/service.ts';
import { attrs, toProtobuf } from '../support/otlp.ts';

const BUDGET = 100;
const events = (n: number, over: Record<string, unknown> = {}) => Array.from({ length: n }, (_, i) => event({ description: `e${i}`, ...over }));
const ndjson = (n: number) => events(n).map((e) => JSON.stringify(e)).join('\n');
const otlpBody = (n: number) => toProtobuf({
  resourceLogs: [{ scopeLogs: [{ logRecords: Array.from({ length: n }, () => ({ eventName: 'file.deleted', attributes: attrs({ 'audit.action': 'file_delete' }) })) }] }],
});

async function countTenant(t: TestService, tenant: string): Promise<number> {
  await t.count();
  const r = await t.services.store.query<{ n: string }>(
    `SELECT count() AS n FROM ${t.services.store.table('audit_activities')} WHERE tenant_id = {tenant:String}`, { tenant });
  return Number(r[0]!.n);
}

async function expect429(res: Response, what: string): Promise<{ detail: string }> {
  expect(res.status, what).toBe(429);
  const retryAfter = Number(res.headers.get('Retry-After'));
  expect(retryAfter, what).toBeGreaterThanOrEqual(1);
  expect(retryAfter, what).toBeLessThanOrEqual(60);
  return { detail: await res.text() };
}

describe('AUDIT_WRITE_RATE_LIMIT', () => {
  let t: TestService;
  beforeAll(async () => {
    t = await createTestService({ AUDIT_WRITE_RATE_LIMIT: String(BUDGET) });
  });
  afterAll(async () => t.close());

  const otlp = (token: string, n: number) => t.app.request('/v1/logs', {
    method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/x-protobuf' }, body: otlpBody(n),
  });

  it('counts events, not requests, across JSON, NDJSON and OTLP, and refuses past the budget with nothing stored', async () => {
    const token = await t.token({ tenant: 'flood' });
    expect((await t.post(events(60), { token })).status).toBe(202);
    // 60 + 50 > 100: refused whole, as problem+json with Retry-After, and not charged.
    const over = await t.post(events(50), { token });
    expect(over.headers.get('Content-Type')).toMatch(/^application\/problem\+json/);
    expect(over.headers.get('RateLimit-Remaining')).toBe('40');
    const problem = JSON.parse((await expect429(over, 'JSON array')).detail) as { type: string; detail: string };
    expect(problem.type).toMatch(/write-rate-limited$/);
    expect(problem.detail).toMatch(/100 events per minute; 40 left/);
    expect(await countTenant(t, 'flood')).toBe(60);
    // What is left still fits, by another path.
    expect((await t.post(ndjson(30), { token, contentType: 'application/x-ndjson' })).status).toBe(202);
    expect((await otlp(token, 10)).status).toBe(200);
    expect(await countTenant(t, 'flood')).toBe(100);
    // The budget is spent: one more event on any path is refused, and stores nothing.
    await expect429(await t.post(event(), { token }), 'single event');
    await expect429(await t.post(ndjson(1), { token, contentType: 'application/x-ndjson' }), 'NDJSON');
    await expect429(await t.post(events(1), { token, headers: {} }), 'array');
    const viaOtlp = await otlp(token, 1);
    await expect429(viaOtlp, 'OTLP');
    // Fresh tokens for other users of the same tenant share its budget.
    await expect429(await t.post(event(), { token: await t.token({ tenant: 'flood', sub: 'mallory' }) }), 'other sub');
    expect(await countTenant(t, 'flood')).toBe(100);
  });

  it('one tenant spending its budget does not touch another tenant\'s', async () => {
    const token = await t.token({ tenant: 'bystander' });
    expect((await t.post(events(BUDGET), { token })).status).toBe(202);
    expect(await countTenant(t, 'bystander')).toBe(BUDGET);
  });

  it('a batch larger than the whole budget is refused with advice to split it', async () => {
    const token = await t.token({ tenant: 'bulk' });
    const { detail } = await expect429(await t.post(events(BUDGET + 1), { token }), 'oversized batch');
    expect(detail).toContain(`batches of at most ${BUDGET}`);
    expect(await countTenant(t, 'bulk')).toBe(0);
  });

  it('partial=true charges only the events it stores; refused ones cost nothing', async () => {
    const token = await t.token({ tenant: 'partial' });
    const body = [...events(BUDGET), { action: 'no_type' }, { activity_type: 'NOT VALID', action: 'x' }];
    const res = await t.app.request('/api/v1/audit/activities?partial=true', {
      method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    expect(res.status).toBe(202);
    expect(await bodyOf(res, 'post', '/api/v1/audit/activities?partial=true')).toMatchObject({ accepted: BUDGET });
    await expect429(await t.post(event(), { token }), 'after partial');
    expect(await countTenant(t, 'partial')).toBe(BUDGET);
  });

  it('reads are not charged to the write budget', async () => {
    const token = await t.token({ tenant: 'flood' });
    expect((await t.get('/api/v1/audit/activities?limit=1', { token })).status).toBe(200);
  });
});

describe('the write budget window', () => {
  afterEach(() => vi.useRealTimers());
  it('refills after a minute', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const limit = writeRateLimit(5);
    limit.charge('acme', 5);
    expect(() => limit.charge('acme', 1)).toThrow(/5 events per minute/);
    vi.setSystemTime(Date.now() + 61_000);
    expect(() => limit.charge('acme', 5)).not.toThrow();
    limit.refund('acme', 2);
    expect(() => limit.charge('acme', 2)).not.toThrow();
    expect(() => limit.charge('acme', 1)).toThrow();
    limit.shutdown();
  });
});

describe('AUDIT_JWT_MAX_TTL', () => {
  let t: TestService;
  const MAX = 3600;
  beforeAll(async () => {
    t = await createTestService({ AUDIT_JWT_MAX_TTL: String(MAX) });
  });
  afterAll(async () => t.close());

  const sign = (claims: Record<string, unknown>) =>
    new SignJWT({ tenant_id: 'acme', scope: 'audit:read audit:write', sub: 'alice', ...claims })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(TEST_SECRET));
  const now = () => Math.floor(Date.now() / 1000);

  async function expectRefused(token: string, why: RegExp): Promise<void> {
    for (const res of [
      await t.post(event({ description: 'must not be stored' }), { token }),
      await t.get('/api/v1/audit/activities', { token }),
      await t.app.request('/v1/logs', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/x-protobuf' }, body: otlpBody(1) }),
    ]) {
      expect(res.status).toBe(401);
      expect(await res.text()).toMatch(why);
    }
  }

  it('accepts a token that lives exactly the maximum', async () => {
    const token = await mintToken(TEST_SECRET, { tenant: 'acme', scope: 'audit:read audit:write', sub: 'alice', expiresIn: MAX });
    expect((await t.post(event(), { token })).status).toBe(202);
    expect((await t.get('/api/v1/audit/activities', { token })).status).toBe(200);
  });

  it('refuses a token one second longer, on every path, storing nothing', async () => {
    const before = await t.count();
    await expectRefused(await mintToken(TEST_SECRET, { tenant: 'acme', scope: 'audit:write audit:read', sub: 'alice', expiresIn: MAX + 1 }), /AUDIT_JWT_MAX_TTL/);
    await expectRefused(await sign({ iat: now(), exp: now() + 30 * 86_400 }), /at most 3600 s/);
    expect(await t.count()).toBe(before);
  });

  it('refuses a token without iat, or with an iat in the future', async () => {
    const before = await t.count();
    await expectRefused(await sign({ exp: now() + 60 }), /iat\\?" claim/);
    await expectRefused(await sign({ iat: now() + 365 * 86_400, exp: now() + 365 * 86_400 + 60 }), /iat\\?" claim/);
    expect(await t.count()).toBe(before);
  });

  it('`audithouse token` mints within the limit by default and refuses --days past it', async () => {
    vi.stubEnv('AUDIT_DATA_DIR', testDataDir());
    vi.stubEnv('AUDIT_JWT_SECRET', TEST_SECRET);
    vi.stubEnv('AUDIT_JWT_MAX_TTL', String(MAX));
    const out: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (out.push(String(s)), true));
    try {
      expect(await main(['token', '--tenant', 'acme', '--scope', 'audit:read', '--sub', 'alice'])).toBe(0);
      const token = out.join('').trim();
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { iat: number; exp: number };
      expect(claims.exp - claims.iat).toBe(MAX);
      expect((await t.get('/api/v1/audit/activities', { token })).status).toBe(200);
      out.length = 0;
      expect(await main(['token', '--tenant', 'acme', '--scope', 'audit:read', '--days', '1'])).toBe(2);
      expect(out.join('')).toContain('AUDIT_JWT_MAX_TTL');
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
      vi.unstubAllEnvs();
    }
  });

  it('the problem is RFC 9457 and names no part of the token', async () => {
    const token = await sign({ iat: now(), exp: now() + 7200 });
    const res = await t.get('/api/v1/audit/activities', { token });
    expect(res.status).toBe(401);
    expect(res.headers.get('Content-Type')).toMatch(/^application\/problem\+json/);
    expect(res.headers.get('WWW-Authenticate')).toBe('Bearer');
    const text = await res.text();
    for (const part of token.split('.')) expect(text).not.toContain(part);
  });
});

describe('configuration', () => {
  const base = { AUDIT_JWT_SECRET: TEST_SECRET };
  it('is off by default', () => {
    const c = loadConfig(base);
    expect(c.limits.writeEventsPerMinute).toBe(0);
    expect(c.jwt.maxTtlS).toBeUndefined();
    expect(loadConfig({ ...base, AUDIT_WRITE_RATE_LIMIT: '500', AUDIT_JWT_MAX_TTL: '900' })).toMatchObject({ limits: { writeEventsPerMinute: 500 }, jwt: { maxTtlS: 900 } });
  });

  it('refuses values it cannot use, naming the variable', () => {
    for (const [name, value] of [['AUDIT_WRITE_RATE_LIMIT', '-1'], ['AUDIT_WRITE_RATE_LIMIT', '1.5'], ['AUDIT_WRITE_RATE_LIMIT', 'lots'],
      ['AUDIT_JWT_MAX_TTL', '0'], ['AUDIT_JWT_MAX_TTL', '-60'], ['AUDIT_JWT_MAX_TTL', '1h'], ['AUDIT_JWT_MAX_TTL', '99999999999']] as const) {
      let err: unknown;
      try {
        loadConfig({ ...base, [name]: value });
      } catch (e) {
        err = e;
      }
      expect(err, `${name}=${value}`).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.join('\n')).toContain(name);
    }
  });
});
