// One tenant-id charset and length on every path (issue 16, item 4): ingest, every read route's
// ?tenant_id=, erasure, the token's tenant_id claim and the CLI that mints tokens. "x'y" broke
// every Grafana panel once picked; "%16" or an emoji in a read created a phantom tenant (the
// audit.accessed it recorded). Each is refused with a problem+json naming the field, and
// nothing is stored: no event, no access record.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/auth/jwt.ts';
import { TENANT_ID_MAX, TENANT_ID_RE } from '../../src/event/patterns.ts';
import { main as cli } from '../../src/index.ts';
import { apiEndpoints } from '../support/endpoints.ts';
import { bodyOf, createTestService, event, TEST_SECRET, type TestService, problemOf } from '../support/service.ts';

let t: TestService;
let admin: string;
beforeAll(async () => {
  t = await createTestService({ AUDIT_ACCESS_LOG_ENABLED: 'true', AUDIT_ACCESS_LOG_WINDOW_MS: '60000' });
  admin = await t.token({ scope: 'audit:admin audit:read audit:write', sub: 'root' });
});
afterAll(() => t?.close());

const HOSTILE = ["x'y", "acme' OR 1=1 --", '\u0016', '🦄', 'acme globex', ' acme', '-acme', 'a/b', 'a\\b', 'a,b', 'x'.repeat(TENANT_ID_MAX + 1), ''];
const FINE = ['acme', 'tenant-0001', 'Acme_Corp.eu-1', '7', 'x'.repeat(TENANT_ID_MAX)];

/** Every row stored (events and access records), once the access log and the writer have flushed. */
async function storedTenants(): Promise<string[]> {
  await t.services.accessLog!.flush();
  await t.services.writer.flush({ timeoutMs: 15_000, failOnError: true });
  const rows = await t.services.store.query<{ tenant_id: string }>(`SELECT DISTINCT tenant_id FROM ${t.services.store.table('audit_activities')} ORDER BY tenant_id`);
  return rows.map((r) => r.tenant_id);
}

describe('the one rule', () => {
  it('accepts letters, digits, ".", "_" and "-" up to 128 characters, and nothing else', () => {
    for (const id of FINE) expect(TENANT_ID_RE.test(id), id).toBe(true);
    for (const id of HOSTILE) expect(TENANT_ID_RE.test(id), JSON.stringify(id)).toBe(false);
  });
});

describe('ingest', () => {
  for (const bad of HOSTILE) {
    it(`refuses tenant_id ${JSON.stringify(bad.slice(0, 20))} from an admin with 422 naming tenant_id, storing nothing`, async () => {
      const before = await t.count();
      const res = await t.post(event({ tenant_id: bad }), { token: admin });
      expect(res.status).toBe(422);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const problem = (await problemOf(res));
      expect(problem.errors).toEqual([expect.objectContaining({ index: 0, field: 'tenant_id' })]);
      expect(await t.count()).toBe(before);
    });
  }

  it('lists it per event with ?partial=true and stores the others', async () => {
    const before = await t.count();
    const res = await t.app.request('/api/v1/audit/activities?partial=true', {
      method: 'POST', headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
      body: JSON.stringify([event({ tenant_id: 'globex' }), event({ tenant_id: "x'y" })]),
    });
    expect(res.status).toBe(202);
    const body = await bodyOf(res, 'post', '/api/v1/audit/activities?partial=true');
    expect(body.accepted).toBe(1);
    expect(body.rejected).toEqual([expect.objectContaining({ index: 1, field: 'tenant_id' })]);
    expect(await t.count()).toBe(before + 1);
    expect(await storedTenants()).not.toContain("x'y");
  });
});

describe('reads: ?tenant_id= on every route that takes it', () => {
  const withTenantParam = () => {
    const doc = t.app.getOpenAPI31Document({ openapi: '3.1.0', info: { title: 'audithouse', version: 'test' } });
    return apiEndpoints(t.app).filter((e) => {
      const op = (doc.paths?.[e.template] as Record<string, { parameters?: Array<{ name: string; in: string }> }>)[e.method.toLowerCase()];
      return e.method === 'GET' && (op?.parameters ?? []).some((p) => p.in === 'query' && p.name === 'tenant_id');
    });
  };

  it('covers every read route that names a tenant', () => {
    expect(withTenantParam().map((e) => e.template).sort()).toEqual(expect.arrayContaining([
      '/api/v1/audit/activities', '/api/v1/audit/activities/recent', '/api/v1/audit/activities/{id}',
      '/api/v1/audit/export', '/api/v1/audit/integrity', '/api/v1/audit/summary',
    ]));
  });

  it('refuses a hostile tenant_id with 400 naming it, for an admin, and records no access for it', async () => {
    const before = await storedTenants();
    for (const e of withTenantParam()) {
      for (const bad of HOSTILE) {
        const res = await t.app.request(`${e.url}?tenant_id=${encodeURIComponent(bad)}`, { headers: { Authorization: `Bearer ${admin}` } });
        const what = `${e.template} ?tenant_id=${JSON.stringify(bad.slice(0, 20))}`;
        expect(res.status, what).toBe(400);
        expect(res.headers.get('content-type'), what).toMatch(/^application\/problem\+json/);
        const problem = (await problemOf(res));
        expect(problem.errors, what).toEqual([expect.objectContaining({ field: 'tenant_id' })]);
      }
    }
    // No phantom tenant: nothing at all was recorded for these refused reads.
    expect(await storedTenants()).toEqual(before);
  });

  it('still reads a well-formed other tenant for an admin (and records that access)', async () => {
    const res = await t.app.request('/api/v1/audit/activities?tenant_id=globex', { headers: { Authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(200);
    expect(await storedTenants()).toContain('globex');
  });
});

describe('erasure', () => {
  // 400 like every other bad erasure body (test/integrity/integrity-erasure.test.ts): the endpoint keeps one status for its body.
  it('refuses a hostile tenant_id in the body with 400 naming it, and erases nothing', async () => {
    expect((await t.post(event({ user_id: 'carol' }))).status).toBe(202);
    const before = await t.count();
    for (const bad of ["x'y", '🦄', '\u0016']) {
      const res = await t.app.request('/api/v1/audit/erasure', {
        method: 'POST', headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ user_id: 'carol', tenant_id: bad }),
      });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(((await problemOf(res))).errors).toEqual([expect.objectContaining({ field: 'tenant_id' })]);
    }
    expect(await t.count()).toBe(before); // no audit.erasure record either
    const rows = await t.services.store.query<{ n: string }>(`SELECT count() AS n FROM ${t.services.store.table('audit_activities')} WHERE user_id = 'carol'`);
    expect(Number(rows[0]!.n)).toBe(1);
  });
});

describe('tokens', () => {
  it('refuses a token whose tenant_id claim breaks the rule (401), on writes and reads, storing nothing', async () => {
    const before = await t.count();
    for (const bad of ["x'y", '🦄', '\u0016', 'x'.repeat(TENANT_ID_MAX + 1)]) {
      const token = await mintToken(TEST_SECRET, { tenant: bad, scope: 'audit:admin audit:read audit:write' });
      const write = await t.post(event(), { token });
      expect(write.status).toBe(401);
      expect(((await problemOf(write))).detail).toMatch(/"tenant_id" claim/);
      expect((await t.get('/api/v1/audit/activities', { token })).status).toBe(401);
    }
    expect(await t.count()).toBe(before);
    expect((await storedTenants()).every((x) => TENANT_ID_RE.test(x))).toBe(true);
  });

  it('the CLI will not mint one', async () => {
    const write = process.stderr.write;
    let said = '';
    process.stderr.write = ((s: string) => ((said += s), true)) as typeof process.stderr.write;
    try {
      expect(await cli(['token', '--tenant', "x'y", '--scope', 'audit:read'])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(said).toMatch(/"tenant_id" claim must be 1 to 128 characters/);
  });
});
