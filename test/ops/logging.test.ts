// Request logs read back from pino's real output: JSON with request id, tenant and route on
// every request line, the configured level, secrets redacted, and a pretty mode.
import crypto from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { mintToken } from '../../src/auth/jwt.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import { startServices, type StartedServices } from '../../src/services.ts';
import { bodyOf, event, problemOf, TEST_SECRET, testDataDir } from '../support/service.ts';

/** A pino destination that keeps every line it is given. */
class Capture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void) {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    cb();
  }
  json(): Array<Record<string, unknown>> {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  requests(): Array<Record<string, unknown>> {
    return this.json().filter((l) => l.msg === 'request');
  }
  clear() {
    this.lines.length = 0;
  }
}

async function serviceWithLog(env: Record<string, string>, log: (level: string) => Logger) {
  const config = loadConfig({
    AUDIT_DATA_DIR: testDataDir(),
    CLICKHOUSE_DATABASE: `t_${crypto.randomBytes(6).toString('hex')}`,
    AUDIT_JWT_SECRET: TEST_SECRET,
    AUDIT_BATCH_LINGER_MS: '1',
    ...env,
  });
  const services = await startServices(config, log(config.log.level));
  return { services, app: createApp(services), config };
}

const out = new Capture();
let services: StartedServices;
let app: ReturnType<typeof createApp>;
let token: string;

beforeAll(async () => {
  ({ services, app } = await serviceWithLog({ AUDIT_LOG_LEVEL: 'INFO' }, (level) => createLogger({ level, destination: out })));
  token = await mintToken(TEST_SECRET, { tenant: 'acme', scope: 'audit:read audit:write', sub: 'alice' });
});
afterAll(async () => services.shutdown());

const auth = (extra: Record<string, string> = {}) => ({ Authorization: `Bearer ${token}`, ...extra });

describe('request log lines', () => {
  it('are JSON with request id, tenant, route, method, status and duration', async () => {
    out.clear();
    const res = await app.request('/api/v1/audit/activities', {
      method: 'POST',
      headers: auth({ 'Content-Type': 'application/json', 'X-Request-Id': 'req-log-1' }),
      body: JSON.stringify(event()),
    });
    expect(res.status).toBe(202);
    const [id] = (await bodyOf(res, 'post', '/api/v1/audit/activities')).ids;
    expect((await app.request(`/api/v1/audit/activities/${id}`, { headers: auth({ 'X-Request-Id': 'req-log-2' }) })).status).toBe(200);
    expect((await app.request('/api/v1/audit/activities/recent', { headers: auth() })).status).toBe(200);

    const lines = out.requests();
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({
      level: 'info', service: 'audithouse', request_id: 'req-log-1', tenant: 'acme', sub: 'alice',
      method: 'POST', route: '/api/v1/audit/activities', path: '/api/v1/audit/activities', status: 202,
    });
    expect(lines[0]!.ms).toEqual(expect.any(Number));
    expect(Date.parse(lines[0]!.time as string)).toBeGreaterThan(Date.now() - 60_000);
    // The route is the template (bounded); the path is the concrete one.
    expect(lines[1]).toMatchObject({ request_id: 'req-log-2', tenant: 'acme', route: '/api/v1/audit/activities/:id', path: `/api/v1/audit/activities/${id}`, status: 200 });
    expect(lines[2]).toMatchObject({ tenant: 'acme', route: '/api/v1/audit/activities/recent', status: 200 });
  });

  it('have a generated request id, and the route, when the request carries neither id nor token', async () => {
    out.clear();
    const unauth = await app.request('/api/v1/audit/activities');
    expect(unauth.status).toBe(401);
    const problem = await problemOf(unauth);
    expect((await app.request('/healthz')).status).toBe(200);
    expect((await app.request('/no/such/path')).status).toBe(404);
    expect((await app.request('/api/v1/audit/activities/recent')).status).toBe(401);

    const [u, h, nf, r] = out.requests();
    // Refused by the auth middleware, still logged under the route it asked for.
    expect(u).toMatchObject({ status: 401, request_id: problem.request_id, route: '/api/v1/audit/activities', path: '/api/v1/audit/activities' });
    expect(u).not.toHaveProperty('tenant'); // unknown without a valid token
    expect(h).toMatchObject({ status: 200, route: '/healthz' });
    expect(h!.request_id).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
    expect(nf).toMatchObject({ status: 404, route: 'unmatched', path: '/no/such/path' });
    expect(r).toMatchObject({ status: 401, route: '/api/v1/audit/activities/recent' });
  });

  it('log a store failure at error level with the tenant, and keep the body and token out of every line', async () => {
    const own = new Capture();
    // Read cache off: this is about a failing engine, and a cached page would be answered from memory.
    const s = await serviceWithLog({ AUDIT_READ_CACHE_MB: '0' }, (level) => createLogger({ level, destination: own }));
    try {
      const marker = `body-marker-${Date.now()}`;
      await s.services.store.close(); // every query and insert fails from here on
      const post = await s.app.request('/api/v1/audit/activities', {
        method: 'POST',
        headers: auth({ 'Content-Type': 'application/json', Cookie: 'session=cookie-secret-value' }),
        body: JSON.stringify(event({ description: marker, details: { password: 'hunter2-secret' } })),
      });
      expect(post.status).toBe(202); // acknowledged from the write-ahead log; the insert fails behind it
      await s.services.writer.flush({ timeoutMs: 5_000, failOnError: true });
      const res = await s.app.request("/api/v1/audit/activities?limit=5", { headers: auth({ Cookie: 'session=cookie-secret-value' }) });
      expect(res.status).toBeGreaterThanOrEqual(500);
      const line = own.requests().at(-1)!;
      expect(line).toMatchObject({ level: 'error', tenant: 'acme', route: '/api/v1/audit/activities', status: res.status });
      const all = own.lines.join('\n');
      expect(all).not.toContain(marker);
      expect(all).not.toContain('hunter2-secret');
      expect(all).not.toContain(token);
      expect(all).not.toContain('cookie-secret-value');
    } finally {
      await s.services.shutdown();
    }
  });
});

describe('the logger', () => {
  it('redacts authorization headers, cookies, tokens, passwords and the config secrets', () => {
    const c = new Capture();
    const log = createLogger({ level: 'info', destination: c });
    const config = loadConfig({ AUDIT_JWT_SECRET: 'a-very-long-jwt-secret-value-0123456789', CLICKHOUSE_PASSWORD: 'ch-password-value' });
    log.info({
      req: { headers: { authorization: 'Bearer abc.def.ghi', cookie: 'sid=1' } },
      headers: { authorization: 'Bearer 123' },
      client: { token: 'tok-value', password: 'pw-value', secret: 's-value', api_key: 'k-value' },
      token: 'top-token', access_token: 'at-value',
      config,
    }, 'hostile');
    const text = c.lines.join('\n');
    for (const secret of ['abc.def.ghi', 'sid=1', 'Bearer 123', 'tok-value', 'pw-value', 's-value', 'k-value', 'top-token', 'at-value', 'a-very-long-jwt-secret-value-0123456789', 'ch-password-value']) {
      expect(text).not.toContain(secret);
    }
    const line = c.json()[0]!;
    expect((line.config as { jwt: { secret: string } }).jwt.secret).toBe('[REDACTED]');
    expect((line.client as { token: string }).token).toBe('[REDACTED]');
  });

  it('follows AUDIT_LOG_LEVEL: at WARN, request lines of successful requests are not written', async () => {
    const c = new Capture();
    const s = await serviceWithLog({ AUDIT_LOG_LEVEL: 'WARN' }, (level) => createLogger({ level, destination: c }));
    try {
      expect(s.config.log.level).toBe('warn');
      expect((await s.app.request('/healthz')).status).toBe(200);
      expect(c.lines).toEqual([]);
      s.services.log.warn('a warning');
      expect(c.json().map((l) => l.msg)).toEqual(['a warning']);
    } finally {
      await s.services.shutdown();
    }
    expect(() => loadConfig({ AUDIT_LOG_LEVEL: 'LOUD' })).toThrow(/AUDIT_LOG_LEVEL/);
    expect(loadConfig({ AUDIT_LOG_LEVEL: 'DEBUG' }).log.level).toBe('debug');
  });

  it('writes human-readable lines in pretty mode (AUDIT_LOG_PRETTY), still redacted', () => {
    const c = new Capture();
    const log = createLogger({ level: 'info', pretty: true, destination: c });
    log.child({ request_id: 'req-pretty-1', tenant: 'acme' }).info({ route: '/healthz', token: 'pretty-token' }, 'request');
    const text = c.lines.join('\n');
    expect(() => JSON.parse(c.lines[0]!)).toThrow();
    expect(text).toMatch(/INFO.*request/);
    expect(text).toContain('req-pretty-1');
    expect(text).toContain('/healthz');
    expect(text).not.toContain('pretty-token');
    expect(text).not.toMatch(/\u001b\[/); // no colour codes when not writing to a terminal
    expect(loadConfig({ AUDIT_LOG_PRETTY: 'true' }).log.pretty).toBe(true);
  });
});
