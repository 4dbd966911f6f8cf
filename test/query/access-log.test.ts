// Reading is audited: every read emits an audit.accessed event (tenant, user, endpoint, filters,
// row count) through the normal ingest path, without blocking the response and without
// recursion storms. The window is long here, so events are written only on explicit flushes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { MAX_DISTINCT, MAX_DISTINCT_PER_CALLER } from '../../src/query/access-log.ts';
import { startServices } from '../../src/services.ts';
import { Store } from '../../src/store/client.ts';
import { createTestService, event, testEnv, testToken, type TestService } from '../support/service.ts';

interface AccessEvent {
  tenant_id: string;
  user_id: string;
  action: string;
  severity: string;
  outcome: string;
  resource_id: string;
  request_id: string;
  details: {
    endpoint: string;
    filters: Record<string, string>;
    row_count: number | null;
    reads: number;
    status: number;
    reader_tenant: string;
    suppressed_reads?: number;
    completed?: boolean;
    endpoints?: Record<string, number>;
    statuses?: Record<string, number>;
    filter_sets?: Array<{ endpoint: string; filters: Record<string, string>; reads: number }>;
    unlisted_reads?: number;
  };
}

let t: TestService;
beforeAll(async () => {
  t = await createTestService({ AUDIT_ACCESS_LOG_ENABLED: 'true', AUDIT_ACCESS_LOG_WINDOW_MS: '60000' });
  const events = Array.from({ length: 12 }, (_, i) => event({ severity: i % 2 ? 'HIGH' : 'LOW', user_id: `u${i % 3}`, description: `e${i}` }));
  expect((await t.post(events)).status).toBe(202);
  expect((await t.post([event(), event()], { token: await t.token({ tenant: 'globex' }) })).status).toBe(202);
});
afterAll(async () => t.close());

async function settle(): Promise<void> {
  await t.services.accessLog!.flush();
  await t.services.writer.flush();
}

/** Read straight from the store: reading through the API would itself be audited. */
async function accessEvents(tenant: string): Promise<AccessEvent[]> {
  const rows = await t.services.store.query<Omit<AccessEvent, 'details'> & { details: string }>(
    `SELECT tenant_id, user_id, action, toString(severity) AS severity, toString(outcome) AS outcome, resource_id, request_id, details
     FROM ${t.services.store.table('audit_activities')}
     WHERE tenant_id = {tenant:String} AND activity_type = 'audit.accessed' ORDER BY timestamp, received_at`,
    { tenant },
  );
  return rows.map((r) => ({ ...r, details: JSON.parse(r.details) as AccessEvent['details'] }));
}

async function newAccessEvents(tenant: string, action: () => Promise<void>): Promise<AccessEvent[]> {
  await settle();
  const before = (await accessEvents(tenant)).length;
  await action();
  await settle();
  return (await accessEvents(tenant)).slice(before);
}

describe('audit.accessed', () => {
  it('each read endpoint records tenant, user, endpoint, filters and row count', async () => {
    const list = await t.get('/api/v1/audit/activities?severity=HIGH&user_id=u1&limit=50');
    const listed = (await list.json()).data;
    const got = await newAccessEvents('acme', async () => {
      await t.get('/api/v1/audit/activities?severity=HIGH&user_id=u1&limit=50');
      await t.get('/api/v1/audit/activities/recent?days=30&limit=5');
      await t.get(`/api/v1/audit/activities/${listed[0]!.id}`);
      await (await t.get('/api/v1/audit/export?format=csv&severity=LOW&activity_type=user.login')).text();
    });
    expect(got).toHaveLength(4);
    const by = (endpoint: string) => got.find((e) => e.details.endpoint === endpoint)!;
    expect(by('GET /api/v1/audit/activities')).toMatchObject({
      tenant_id: 'acme', user_id: 'alice', action: 'read', outcome: 'success', severity: 'LOW',
      details: { filters: { severity: 'HIGH', user_id: 'u1', limit: '50' }, row_count: listed.length, reads: 1, status: 200, reader_tenant: 'acme' },
    });
    expect(listed.length).toBeGreaterThan(0);
    expect(by('GET /api/v1/audit/activities/recent').details).toMatchObject({ filters: { days: '30', limit: '5' }, row_count: 5 });
    expect(by('GET /api/v1/audit/activities/:id')).toMatchObject({ resource_id: listed[0]!.id, details: { row_count: 1 } });
    expect(by('GET /api/v1/audit/export')).toMatchObject({
      action: 'export', severity: 'MEDIUM', details: { filters: { format: 'csv', severity: 'LOW', activity_type: 'user.login' }, row_count: 6 },
    });
  });

  it('does not hold the response: the event is stored after the read has answered', async () => {
    await settle();
    const before = (await accessEvents('acme')).length;
    expect((await t.get('/api/v1/audit/activities?q=e1')).status).toBe(200);
    await t.services.writer.flush();
    expect(await accessEvents('acme')).toHaveLength(before);
    await settle();
    expect(await accessEvents('acme')).toHaveLength(before + 1);
  });

  it('coalesces identical reads in a window into one event that counts them', async () => {
    const got = await newAccessEvents('acme', async () => {
      const res = await Promise.all(Array.from({ length: 20 }, () => t.get('/api/v1/audit/activities?user_id=u2')));
      expect(res.every((r) => r.status === 200)).toBe(true);
    });
    expect(got).toHaveLength(1);
    expect(got[0]!.details).toMatchObject({ reads: 20, row_count: 20 * 4, filters: { user_id: 'u2' } });
  });

  it('no recursion storm: reading the access log adds one event per window, not a cascade', async () => {
    await settle();
    const counts: number[] = [(await accessEvents('acme')).length];
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 10 }, () => t.get('/api/v1/audit/activities?activity_type=audit.accessed&limit=1000')));
      await settle();
      counts.push((await accessEvents('acme')).length);
    }
    const growth = counts.slice(1).map((c, i) => c - counts[i]!);
    expect(growth).toEqual([1, 1, 1, 1, 1]);
  });

  it('an admin reading another tenant is recorded in that tenant, naming the reader', async () => {
    const admin = await t.token({ tenant: 'acme', sub: 'root', scope: 'audit:admin' });
    const got = await newAccessEvents('globex', async () => {
      expect((await t.get('/api/v1/audit/activities?tenant_id=globex', { token: admin })).status).toBe(200);
    });
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ tenant_id: 'globex', user_id: 'root', severity: 'MEDIUM', details: { reader_tenant: 'acme', row_count: 2 } });
  });

  it('refused reads are recorded as failures in the reader\'s own tenant; unauthenticated ones are not', async () => {
    const writeOnly = await t.token({ scope: 'audit:write' });
    const before = await t.count();
    const got = await newAccessEvents('acme', async () => {
      expect((await t.get('/api/v1/audit/activities?tenant_id=globex')).status).toBe(403);
      expect((await t.get('/api/v1/audit/activities', { token: writeOnly })).status).toBe(403);
      expect((await t.get('/api/v1/audit/activities/00000000-0000-4000-8000-000000000404')).status).toBe(404);
      expect((await t.app.request('/api/v1/audit/activities')).status).toBe(401);
      expect((await t.get('/api/v1/audit/activities?limit=0')).status).toBe(400);
    });
    expect(got).toHaveLength(3);
    for (const e of got) expect(e).toMatchObject({ tenant_id: 'acme', outcome: 'failure', severity: 'MEDIUM' });
    expect(got.map((e) => e.details.status).sort()).toEqual([403, 403, 404]);
    expect(await t.count()).toBe(before + 3);
  });

  it('filters in an access event go through redaction like any event', async () => {
    const got = await newAccessEvents('acme', async () => {
      await t.get(`/api/v1/audit/activities?q=${encodeURIComponent('Bearer 0123456789abcdef0123')}`);
    });
    expect(got[0]!.details.filters.q).toBe('[REDACTED]');
  });

  it('past a caller\'s distinct-read budget, its further reads collapse into one summary naming endpoints and filters', async () => {
    const principal = { sub: 'scanner', tenantId: 'acme', scopes: new Set(['audit:read']) };
    const got = await newAccessEvents('acme', async () => {
      for (let i = 0; i < MAX_DISTINCT_PER_CALLER + 250; i++) {
        t.services.accessLog!.record({
          tenant: 'acme', reader: principal, endpoint: i % 2 ? 'GET /api/v1/audit/activities' : 'GET /api/v1/audit/export', filters: { user_id: `probe-${i}` },
          rows: 0, status: 200, ip: '', userAgent: 'scanner', requestId: `r${i}`, at: Date.now(),
        });
      }
    });
    expect(got).toHaveLength(MAX_DISTINCT_PER_CALLER + 1);
    const summary = got.find((e) => e.details.suppressed_reads !== undefined)!;
    expect(summary).toMatchObject({ user_id: 'scanner', outcome: 'success', severity: 'MEDIUM' });
    expect(summary.details).toMatchObject({
      suppressed_reads: 250, endpoint: '*', statuses: { 200: 250 },
      endpoints: { 'GET /api/v1/audit/activities': 125, 'GET /api/v1/audit/export': 125 },
    });
    // The first filter sets are listed (bounded), the rest counted.
    expect(summary.details.filter_sets![0]).toEqual({ endpoint: 'GET /api/v1/audit/export', filters: { user_id: `probe-${MAX_DISTINCT_PER_CALLER}` }, reads: 1 });
    expect(summary.details.filter_sets!.length + summary.details.unlisted_reads!).toBe(250);
    expect(summary.details.filter_sets!.length).toBeLessThanOrEqual(20);
  });

  it('a tenant\'s callers together keep at most MAX_DISTINCT distinct reads per window, then are summarised', async () => {
    const callers = MAX_DISTINCT / MAX_DISTINCT_PER_CALLER + 2;
    const got = await newAccessEvents('acme', async () => {
      for (let c = 0; c < callers; c++) {
        const reader = { sub: `svc-${c}`, tenantId: 'acme', scopes: new Set(['audit:read']) };
        for (let i = 0; i < MAX_DISTINCT_PER_CALLER; i++) {
          t.services.accessLog!.record({
            tenant: 'acme', reader, endpoint: 'GET /api/v1/audit/activities', filters: { q: `c${c}-${i}` },
            rows: 0, status: 200, ip: '', userAgent: '', requestId: `r${c}-${i}`, at: Date.now(),
          });
        }
      }
    });
    const summaries = got.filter((e) => e.details.suppressed_reads !== undefined);
    expect(got.length - summaries.length).toBe(MAX_DISTINCT);
    // Both summaries are written in one flush, often in the same millisecond: their stored order is not theirs.
    const bySub = summaries.map((s) => [s.user_id, s.details.suppressed_reads]).sort(([a], [b]) => String(a).localeCompare(String(b), 'en', { numeric: true }));
    expect(bySub).toEqual([[`svc-${callers - 2}`, MAX_DISTINCT_PER_CALLER], [`svc-${callers - 1}`, MAX_DISTINCT_PER_CALLER]]);
  });

  it('a flood of refused reads from one tenant starves neither another tenant nor its own accepted reads', async () => {
    const flooder = await t.token({ tenant: 'acme', sub: 'mallory', scope: 'audit:read' });
    const victim = await t.token({ tenant: 'globex', sub: 'bob', scope: 'audit:read' });
    await settle();
    const before = await t.count();
    const globexBefore = (await accessEvents('globex')).length;
    const acmeBefore = (await accessEvents('acme')).length;
    // ~1,100 cheap 403s within one window (the window is 60 s here), each a distinct read.
    const FLOOD = 1_100;
    for (let i = 0; i < FLOOD; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, (_, j) => t.get(`/api/v1/audit/activities?tenant_id=victim-${i + j}`, { token: flooder })));
      expect(batch.every((r) => r.status === 403)).toBe(true);
    }
    const exported = await t.get('/api/v1/audit/export?format=ndjson&severity=LOW', { token: victim });
    expect(exported.status).toBe(200);
    const exportedRows = (await exported.text()).split('\n').filter(Boolean).length;
    expect((await t.get('/api/v1/audit/activities?user_id=u1', { token: flooder })).status).toBe(200);
    await settle();

    // The other tenant's export: recorded in full, with endpoint and filters.
    const globex = (await accessEvents('globex')).slice(globexBefore);
    expect(globex).toHaveLength(1);
    expect(globex[0]).toMatchObject({
      tenant_id: 'globex', user_id: 'bob', action: 'export', outcome: 'success',
      details: { endpoint: 'GET /api/v1/audit/export', filters: { format: 'ndjson', severity: 'LOW' }, row_count: exportedRows, reader_tenant: 'globex' },
    });
    // The flooder's own accepted read: in full, too.
    const acme = (await accessEvents('acme')).slice(acmeBefore);
    expect(acme.find((e) => e.details.status === 200)).toMatchObject({ user_id: 'mallory', details: { endpoint: 'GET /api/v1/audit/activities', filters: { user_id: 'u1' } } });
    // The flood: its budget of distinct refused reads, then one summary saying what it covers.
    const refused = acme.filter((e) => e.outcome === 'failure');
    expect(refused).toHaveLength(MAX_DISTINCT_PER_CALLER + 1);
    const summary = refused.find((e) => e.details.suppressed_reads !== undefined)!;
    expect(summary.details).toMatchObject({
      suppressed_reads: FLOOD - MAX_DISTINCT_PER_CALLER, endpoint: 'GET /api/v1/audit/activities',
      statuses: { 403: FLOOD - MAX_DISTINCT_PER_CALLER }, reader_tenant: 'acme',
    });
    expect(summary.details.filter_sets![0]!.filters).toEqual({ tenant_id: `victim-${MAX_DISTINCT_PER_CALLER}` });
    // Nothing of the flood landed outside the flooder's tenant, and it stayed bounded.
    expect(globex.every((e) => e.details.reader_tenant === 'globex')).toBe(true);
    expect(await t.count()).toBe(before + MAX_DISTINCT_PER_CALLER + 1 + 1 + 1);
  });
});

describe('HEAD', () => {
  it('every read route answers HEAD with 405 + Allow: GET, runs no read and records nothing', async () => {
    const admin = await t.token({ scope: 'audit:read audit:admin', sub: 'root' });
    const listed = (await (await t.get('/api/v1/audit/activities?limit=1')).json()).data;
    await settle();
    const before = await t.count();
    const got = await newAccessEvents('acme', async () => {
      for (const path of [
        '/api/v1/audit/activities', '/api/v1/audit/activities?user_id=u1', '/api/v1/audit/activities/recent',
        `/api/v1/audit/activities/${listed[0]!.id}`, '/api/v1/audit/activities/00000000-0000-4000-8000-000000000404',
        '/api/v1/audit/summary', '/api/v1/audit/export?format=csv', '/api/v1/audit/archives', '/api/v1/audit/integrity',
      ]) {
        for (const token of [undefined, admin]) {
          const res = await t.app.request(path, { method: 'HEAD', headers: token ? { Authorization: `Bearer ${token}` } : {} });
          expect(res.status, `HEAD ${path}`).toBe(405);
          expect(res.headers.get('allow'), `HEAD ${path}`).toBe('GET');
          expect(await res.text()).toBe('');
        }
      }
    });
    expect(got).toEqual([]);
    expect(await t.count()).toBe(before);
    // Probes keep HEAD where nothing is read from the log.
    expect((await t.app.request('/healthz', { method: 'HEAD' })).status).toBe(200);
  });
});

describe('shutdown', () => {
  it('stores pending access events before the writer closes', async () => {
    const database = `t_shutdown_${Date.now()}`;
    const config = loadConfig(testEnv({
      CLICKHOUSE_DATABASE: database,
      AUDIT_ACCESS_LOG_ENABLED: 'true', AUDIT_ACCESS_LOG_WINDOW_MS: '60000', AUDIT_READ_RATE_LIMIT: '0',
    }));
    const store = await Store.fromConfig(config);
    const services = await startServices(config, createLogger({ level: 'silent' }), { store });
    const app = createApp(services);
    const token = await testToken({ scope: 'audit:read' });
    expect((await app.request('/api/v1/audit/activities', { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    await services.shutdown();
    const rows = await store.query<{ n: string }>(
      `SELECT count() AS n FROM ${store.table('audit_activities')} WHERE activity_type = 'audit.accessed'`,
    );
    expect(Number(rows[0]!.n)).toBe(1);
  });
});
