import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summarizeFromRaw } from '../support/summary-reference.ts';
import { mintToken } from '../../src/auth/jwt.ts';
import { bodyOf, createTestService, TEST_SECRET, type TestService, problemOf, type ApiBody } from '../support/service.ts';
import { seedEvents, toWire } from '../support/analytics-seed.ts';

const TENANTS = ['acme', 'globex', 'initech'];
const now = Date.now();
const seeded = seedEvents({ tenants: TENANTS, perTenant: 1500, spanDays: 12, now, seed: 7 });

let t: TestService;
const tokens: Record<string, string> = {};
beforeAll(async () => {
  // Off (as the fixture's default): it would add an audit.accessed event after each summary read,
  // at a moment of its choosing, between the two sides of a comparison. Its own test is below.
  t = await createTestService({ AUDIT_ACCESS_LOG_ENABLED: 'false' });
  for (const tenant of [...TENANTS, 'ephemeral', 'nobody']) tokens[tenant] = await t.token({ tenant, sub: 'analyst' });
  // Through the real ingest path: POST, batching writer, insert, and the views' triggers.
  for (const tenant of TENANTS) {
    const res = await t.post(seeded.filter((r) => r.tenant_id === tenant).map(toWire), { token: tokens[tenant] });
    expect(res.status).toBe(202);
  }
  // Stored before the first comparison: /summary's own barrier waits at most 5 s and answers 503
  // after it (its contract), which a loaded machine's first inserts of 4,500 events can exceed.
  expect(await t.services.writer.flush({ timeoutMs: 120_000 })).toBe(true);
});
afterAll(async () => t?.close());

async function summary(query: string, token: string): Promise<ApiBody<'get', '/api/v1/audit/summary'>> {
  const res = await t.get(`/api/v1/audit/summary${query}`, { token });
  expect(res.status, await res.clone().text()).toBe(200);
  return bodyOf(res, 'get', '/api/v1/audit/summary');
}

describe('GET /api/v1/audit/summary', () => {
  it('equals the same aggregates computed from the raw rows, per tenant, for several windows', async () => {
    for (const tenant of TENANTS) {
      for (const days of [1, 3, 7, 14, 60]) {
        const got = await summary(`?days=${days}&top=5`, tokens[tenant]!);
        const want = await summarizeFromRaw(t.services.store, { tenant, days, top: 5, now: Date.parse(`${got.to}T12:00:00Z`) });
        expect(got, `${tenant}, ${days} days`).toEqual(want);
        if (days >= 3) expect(want.total).toBeGreaterThan(0);
      }
    }
  });

  it('matches totals counted independently from the seeded events', async () => {
    const got = await summary('?days=7', tokens.globex!);
    const from = Date.parse(`${got.from}T00:00:00Z`);
    const mine = seeded.filter((r) => r.tenant_id === 'globex' && r.timestamp >= from);
    expect(got.total).toBe(mine.length);
    expect(got.failures).toBe(mine.filter((r) => r.outcome === 'failure').length);
    for (const sev of ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const) {
      expect(got.by_severity[sev]).toBe(mine.filter((r) => r.severity === sev).length);
    }
    expect(got.daily).toHaveLength(7);
    expect(got.daily.reduce((n, d) => n + d.total, 0)).toBe(mine.length);
    expect(got.failure_rate).toBeCloseTo(got.failures / got.total, 12);
    // Events without a resource are not a resource.
    expect(got.top_resources.every((r) => r.resource_id !== '')).toBe(true);
    const counts = new Map<string, number>();
    for (const r of mine) counts.set(r.user_id, (counts.get(r.user_id) ?? 0) + 1);
    const topUser = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]!;
    expect(got.top_users[0]).toMatchObject({ user_id: topUser[0], count: topUser[1] });
  });

  it('keeps counting days whose raw rows retention has deleted', async () => {
    const rows = seedEvents({ tenants: ['ephemeral'], perTenant: 300, spanDays: 5, now, seed: 99 });
    expect((await t.post(rows.map(toWire), { token: tokens.ephemeral })).status).toBe(202);
    const before = await summary('?days=10', tokens.ephemeral!);
    expect(before.total).toBeGreaterThan(0);
    // What the retention job (or the TTL) does to raw rows: the views never see deletes.
    await t.services.store.command(
      `ALTER TABLE ${t.services.store.table('audit_activities')} DELETE WHERE tenant_id = 'ephemeral' SETTINGS mutations_sync = 2`,
    );
    const raw = await summarizeFromRaw(t.services.store, { tenant: 'ephemeral', days: 10, top: 10, now: Date.parse(`${before.to}T12:00:00Z`) });
    expect(raw.total).toBe(0);
    expect(await summary('?days=10', tokens.ephemeral!)).toEqual(before);
  });

  it('gives a tenant without events zeros and a full daily series', async () => {
    const got = await summary('?days=3', tokens.nobody!);
    expect(got).toMatchObject({ tenant_id: 'nobody', total: 0, failures: 0, failure_rate: 0, by_activity_type: [], top_users: [], top_resources: [] });
    expect(got.by_severity).toEqual({ LOW: 0, MEDIUM: 0, HIGH: 0, CRITICAL: 0 });
    expect(got.daily.map((d) => d.total)).toEqual([0, 0, 0]);
    expect(got.daily.at(-1)!.date).toBe(got.to);
  });

  it("is bound to the token's tenant: another tenant_id is refused, an admin may name one", async () => {
    const refused = await t.get('/api/v1/audit/summary?tenant_id=globex', { token: tokens.acme });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    const admin = await mintToken(TEST_SECRET, { tenant: 'ops', scope: 'audit:admin', sub: 'root' });
    const asAdmin = await summary('?tenant_id=globex&days=7', admin);
    expect(asAdmin).toEqual(await summary('?days=7', tokens.globex!));
    const writeOnly = await t.token({ tenant: 'acme', scope: 'audit:write' });
    expect((await t.get('/api/v1/audit/summary', { token: writeOnly })).status).toBe(403);
    expect((await t.get('/api/v1/audit/summary', { token: 'not-a-jwt' })).status).toBe(401);
  });

  it('is itself audited: a summary read leaves an audit.accessed event in the tenant read', async () => {
    const audited = await createTestService({ AUDIT_ACCESS_LOG_ENABLED: 'true' });
    try {
      const token = await audited.token({ tenant: 'acme', sub: 'analyst' });
      expect((await audited.get('/api/v1/audit/summary?days=3&top=2', { token })).status).toBe(200);
      await audited.services.accessLog!.flush();
      await audited.services.writer.flush();
      const rows = await audited.services.store.query<{ user_id: string; details: string }>(
        `SELECT user_id, details FROM ${audited.services.store.table('audit_activities')}
         WHERE tenant_id = 'acme' AND activity_type = 'audit.accessed'`,
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]!.user_id).toBe('analyst');
      expect(JSON.parse(rows[0]!.details)).toMatchObject({ endpoint: 'GET /api/v1/audit/summary', filters: { days: '3', top: '2' } });
    } finally {
      await audited.close();
    }
  });

  it('refuses days outside 1..400 and top outside 1..100 with problem+json naming the field', async () => {
    for (const q of ['days=0', 'days=401', 'days=abc', 'days=1.5', 'top=0', 'top=101']) {
      const res = await t.get(`/api/v1/audit/summary?${q}`, { token: tokens.acme });
      expect(res.status, q).toBe(400);
      const body = await problemOf(res);
      expect(body.errors![0]!.field).toBe(q.split('=')[0]);
    }
  });
});
