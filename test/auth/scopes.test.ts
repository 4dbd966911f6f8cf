// The scope matrix: every /api endpoint the app declares × {read, write, admin, none}. A missing
// scope is 403 problem+json naming it; audit:admin is a superset of the others; a tenant_id
// parameter from a non-admin is refused, not silently used.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../../src/auth/principal.ts';
import { apiEndpoints, requestFor, type Endpoint } from '../support/endpoints.ts';
import { createTestService, problemOf, type TestService } from '../support/service.ts';

let t: TestService;
beforeAll(async () => {
  t = await createTestService();
});
afterAll(async () => t.close());

/** The scope each contract endpoint needs. An endpoint missing here fails the matrix on purpose. */
const REQUIRED: Record<string, Scope> = {
  'POST /api/v1/audit/activities': 'audit:write',
  'GET /api/v1/audit/activities': 'audit:read',
  'GET /api/v1/audit/activities/recent': 'audit:read',
  'GET /api/v1/audit/activities/{id}': 'audit:read',
  'GET /api/v1/audit/summary': 'audit:read',
  'GET /api/v1/audit/export': 'audit:read',
  'POST /api/v1/audit/retention/run': 'audit:admin',
  'GET /api/v1/audit/archives': 'audit:admin',
  'POST /api/v1/audit/erasure': 'audit:admin',
  'GET /api/v1/audit/integrity': 'audit:admin',
};
/** Operations on retention, archives, erasure and integrity are admin-only (contract). */
const ADMIN_AREAS = /^\/api\/v1\/audit\/(retention|archives|erasure|integrity)(\/|$)/;

function required(e: Endpoint): Scope | undefined {
  return REQUIRED[`${e.method} ${e.template}`] ?? (ADMIN_AREAS.test(e.template) ? 'audit:admin' : undefined);
}

const PROFILES = {
  read: 'audit:read',
  write: 'audit:write',
  admin: 'audit:admin',
  none: 'openid profile', // a token with scopes, none of them ours
  empty: '',
} as const;
type Profile = keyof typeof PROFILES;

function allowed(profile: Profile, need: Scope): boolean {
  if (profile === 'admin') return true;
  return PROFILES[profile] === need;
}

describe('scope matrix', () => {
  it('every declared /api endpoint has an expected scope', () => {
    const endpoints = apiEndpoints(t.app);
    expect(endpoints.length).toBeGreaterThanOrEqual(5);
    expect(endpoints.filter((e) => !required(e)).map((e) => `${e.method} ${e.template}`)).toEqual([]);
  });

  for (const profile of Object.keys(PROFILES) as Profile[]) {
    it(`${profile} token (scope "${PROFILES[profile]}") on every endpoint`, async () => {
      const token = await t.token({ scope: PROFILES[profile] });
      for (const e of apiEndpoints(t.app)) {
        const need = required(e)!;
        const res = await t.app.request(...requestFor(e, `Bearer ${token}`));
        const label = `${profile} → ${e.method} ${e.template} (needs ${need})`;
        expect(res.headers.get('cache-control'), label).toBe('no-store');
        if (allowed(profile, need)) {
          expect([401, 403], label).not.toContain(res.status);
          expect(res.status, label).toBeLessThan(500);
        } else {
          expect(res.status, label).toBe(403);
          expect(res.headers.get('content-type'), label).toBe('application/problem+json');
          const body = await problemOf(res);
          expect(body.type, label).toBe('https://audithouse.dev/problems/missing-scope');
          expect(body.detail, label).toContain(`"${need}"`);
        }
        await res.body?.cancel().catch(() => {});
      }
    });
  }

  it('a missing scope changes nothing: a read token cannot post', async () => {
    const before = await t.count();
    const res = await t.post({ activity_type: 'user.login', action: 'login' }, { token: await t.token({ scope: 'audit:read' }) });
    expect(res.status).toBe(403);
    await t.services.writer.flush();
    expect(await t.count()).toBe(before);
  });
});

describe('tenant_id parameter on read endpoints', () => {
  const readEndpoints = () => apiEndpoints(t.app).filter((e) => e.method === 'GET' && required(e) === 'audit:read');

  it('is refused (403 tenant-forbidden) from a non-admin naming another tenant', async () => {
    const token = await t.token({ scope: 'audit:read audit:write' });
    for (const e of readEndpoints()) {
      const res = await t.app.request(...requestFor(e, `Bearer ${token}`, 'tenant_id=globex'));
      expect(res.status, e.template).toBe(403);
      expect((await problemOf(res)).type, e.template).toMatch(/tenant-forbidden$/);
    }
  });

  it('is accepted when it names the caller\'s own tenant, and from an admin for any tenant', async () => {
    const own = await t.token({ scope: 'audit:read' });
    const admin = await t.token({ scope: 'audit:admin' });
    for (const e of readEndpoints()) {
      const mine = await t.app.request(...requestFor(e, `Bearer ${own}`, 'tenant_id=acme'));
      expect([200, 404], e.template).toContain(mine.status);
      await mine.body?.cancel().catch(() => {});
      const other = await t.app.request(...requestFor(e, `Bearer ${admin}`, 'tenant_id=globex'));
      expect([200, 404], e.template).toContain(other.status);
      await other.body?.cancel().catch(() => {});
    }
  });

  it('posting for another tenant needs audit:admin', async () => {
    const before = await t.count();
    const write = await t.token({ scope: 'audit:write audit:read' });
    expect((await t.post({ activity_type: 'user.login', action: 'login', tenant_id: 'globex' }, { token: write })).status).toBe(403);
    await t.services.writer.flush();
    expect(await t.count()).toBe(before);
    const admin = await t.token({ scope: 'audit:admin' });
    expect((await t.post({ activity_type: 'user.login', action: 'login', tenant_id: 'globex' }, { token: admin })).status).toBe(202);
  });
});
