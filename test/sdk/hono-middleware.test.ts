// audithouse/hono in a test Hono app (hono/jwt for the users), posting through the real client
// to the real running service: activities carry the right user, tenant, route and status,
// failing handlers included.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { jwt, sign } from 'hono/jwt';
import { requestId } from 'hono/request-id';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditClient, type AuditDeliveryError, type AuditEvent } from '../../src/sdk/client/index.ts';
import { audit, type AuditVariables } from '../../src/sdk/hono/index.ts';
import { startFront, startService, type RunningService } from '../support/running-service.ts';

const USER_SECRET = 'the-test-apps-own-user-secret-0123456789';

let svc: RunningService;
let client: AuditClient;
let reader: AuditClient;
const errors: AuditDeliveryError[] = [];

beforeAll(async () => {
  svc = await startService();
  // The app serves users of several tenants, so its token may post for other tenants: audit:admin.
  const admin = await svc.token({ tenant: 'platform', scope: 'audit:admin', sub: 'svc-test-app' });
  client = new AuditClient({ url: svc.url, token: admin, flushIntervalMs: 5, onError: (e) => errors.push(e) });
  reader = new AuditClient({ url: svc.url, token: admin });
});
afterAll(async () => {
  await client?.close();
  await svc?.close();
});

const userToken = (sub: string, tenant: string) =>
  sign({ sub, tenant_id: tenant, exp: Math.floor(Date.now() / 1000) + 600 }, USER_SECRET, 'HS256');

function testApp() {
  const app = new Hono<{ Variables: AuditVariables }>();
  app.use(requestId());
  // As a real app would: HTTPExceptions keep their answer, anything else is a quiet 500.
  app.onError((err, c) => (err instanceof HTTPException ? err.getResponse() : c.json({ error: 'internal' }, 500)));
  app.use('/api/*', audit({ client, trustProxy: true }), jwt({ secret: USER_SECRET, alg: 'HS256' }));
  app.get('/api/files/:id', (c) => {
    c.var.audit.log({ activity_type: 'file.downloaded', action: 'file_download', resource_type: 'file', resource_id: c.req.param('id') });
    return c.json({ id: c.req.param('id') });
  });
  app.get('/api/forbidden', () => {
    throw new HTTPException(403, { message: 'not yours' });
  });
  app.get('/api/boom', () => {
    throw new Error('db password=hunter2 leaked in a message');
  });
  return app;
}

async function requestsOf(tenant: string, since: number): Promise<AuditEvent[]> {
  expect(await client.flush({ timeoutMs: 10_000 })).toBe(true);
  const out: AuditEvent[] = [];
  for await (const e of reader.iterate({ tenant_id: tenant, since: new Date(since) })) out.push(e);
  return out;
}

describe('audit() middleware', () => {
  it('records api.request with user, tenant, route, status and duration, and fills c.var.audit.log', async () => {
    const since = Date.now() - 1000;
    const app = testApp();
    const res = await app.request('/api/files/f-42?x=1', {
      headers: { Authorization: `Bearer ${await userToken('alice', 'acme')}`, 'User-Agent': 'test-browser/1.0', 'X-Forwarded-For': '203.0.113.9, 10.0.0.1' },
    });
    expect(res.status).toBe(200);
    const events = await requestsOf('acme', since);
    const req = events.find((e) => e.activity_type === 'api.request')!;
    const own = events.find((e) => e.activity_type === 'file.downloaded')!;
    expect(req).toMatchObject({
      user_id: 'alice',
      tenant_id: 'acme',
      action: 'api_request',
      severity: 'LOW',
      outcome: 'success',
      resource_type: 'http_route',
      resource_id: 'GET /api/files/:id',
      ip_address: '203.0.113.9',
      user_agent: 'test-browser/1.0',
      details: { method: 'GET', route: '/api/files/:id', path: '/api/files/f-42', status: 200 },
    });
    expect(req.details.duration_ms).toEqual(expect.any(Number));
    expect(req.details.duration_ms as number).toBeGreaterThanOrEqual(0);
    expect(own).toMatchObject({ user_id: 'alice', tenant_id: 'acme', resource_id: 'f-42', ip_address: '203.0.113.9', user_agent: 'test-browser/1.0' });
    // Both events of the request share its request id.
    expect(own.request_id).toBe(res.headers.get('X-Request-Id'));
    expect(req.request_id).toBe(own.request_id);
    expect(errors).toEqual([]);
  });

  it('records failing handlers: a thrown error as 500 (class only, no message) and an HTTPException with its status', async () => {
    const since = Date.now() - 1000;
    const app = testApp();
    const bob = await userToken('bob', 'globex');
    expect((await app.request('/api/boom', { headers: { Authorization: `Bearer ${bob}` } })).status).toBe(500);
    expect((await app.request('/api/forbidden', { headers: { Authorization: `Bearer ${bob}` } })).status).toBe(403);
    const events = await requestsOf('globex', since);
    const boom = events.find((e) => e.details.route === '/api/boom')!;
    const forbidden = events.find((e) => e.details.route === '/api/forbidden')!;
    expect(boom).toMatchObject({ user_id: 'bob', tenant_id: 'globex', severity: 'MEDIUM', outcome: 'failure', details: { status: 500, error: 'Error' } });
    expect(JSON.stringify(boom)).not.toContain('hunter2');
    expect(forbidden).toMatchObject({ user_id: 'bob', tenant_id: 'globex', severity: 'LOW', outcome: 'failure', details: { status: 403, error: 'HTTPException' } });
  });

  it('records a request the JWT middleware refused, as anonymous', async () => {
    const since = Date.now() - 1000;
    const app = testApp();
    expect((await app.request('/api/files/f-1', { headers: { Authorization: 'Bearer forged' } })).status).toBe(401);
    const events = await requestsOf('platform', since);
    const refused = events.filter((e) => e.activity_type === 'api.request');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ user_id: 'anonymous', tenant_id: 'platform', outcome: 'failure', details: { status: 401 } });
  });

  it('takes the caller from a resolver, and records only the chosen routes', async () => {
    const since = Date.now() - 1000;
    const app = new Hono<{ Variables: AuditVariables }>();
    app.use('*', audit({
      client,
      identify: (c) => ({ user_id: c.req.header('X-User'), tenant_id: c.req.header('X-Tenant') }),
      requests: ['/reports/:id', '/admin/*'],
      ip: () => '198.51.100.7',
    }));
    app.get('/reports/:id', (c) => c.text('report'));
    app.post('/admin/purge', (c) => {
      c.var.audit.log({ activity_type: 'admin.purge', action: 'purge', severity: 'HIGH' });
      return c.text('purged', 202);
    });
    app.get('/health', (c) => c.text('ok'));
    const h = { 'X-User': 'carol', 'X-Tenant': 'initech' };
    await app.request('/reports/r-7', { headers: h });
    await app.request('/admin/purge', { method: 'POST', headers: h });
    await app.request('/health', { headers: h });
    const events = await requestsOf('initech', since);
    const routes = events.filter((e) => e.activity_type === 'api.request').map((e) => e.resource_id).sort();
    expect(routes).toEqual(['GET /reports/:id', 'POST /admin/purge']);
    expect(events.find((e) => e.activity_type === 'admin.purge')).toMatchObject({ user_id: 'carol', tenant_id: 'initech', severity: 'HIGH', ip_address: '198.51.100.7' });
    expect(events.every((e) => e.user_id === 'carol' && e.ip_address === '198.51.100.7')).toBe(true);
  });

  it('never makes the request wait for the audit service', async () => {
    // The audit side never answers (a front that holds every request): responses still come.
    const front = await startFront(svc.url, () => ({ kind: 'hold', until: new Promise<void>(() => {}) }));
    const stuck = new AuditClient({ url: front.url, token: 'x', batchSize: 10 });
    try {
      const app = new Hono<{ Variables: AuditVariables }>();
      app.use('*', audit({ client: stuck }));
      app.get('/x', (c) => {
        c.var.audit.log({ activity_type: 'thing.done', action: 'do' });
        return c.text('done');
      });
      for (let i = 0; i < 20; i++) expect((await app.request('/x')).status).toBe(200);
      expect(stuck.stats).toMatchObject({ buffered: 40, sent: 0 });
      expect(stuck.stats.inFlight).toBeGreaterThan(0); // the held requests really are out there
    } finally {
      await stuck.close({ timeoutMs: 50 });
      await front.close();
    }
  });
});
