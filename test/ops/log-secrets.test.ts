// No secrets in logs: whatever path a token takes into a log call (headers, error messages,
// nested fields, child bindings, the message itself), the line that is written holds no token.
// The real pino logger writes into a captured stream; the service runs with it at DEBUG.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../src/logger.ts';
import { createTestService, event, type TestService } from '../support/service.ts';

let lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});
let log: Logger;
let t: TestService;
let token: string;

beforeAll(async () => {
  log = createLogger({ level: 'debug', destination: sink });
  t = await createTestService({ AUDIT_ACCESS_LOG_ENABLED: 'true', AUDIT_ACCESS_LOG_WINDOW_MS: '10' }, { log });
  token = await t.token({ scope: 'audit:read audit:write' });
});
afterAll(async () => t.close());

/** The parts of a JWT that must never be written: its payload and signature segments. */
function assertNoToken(output: string, jwt: string) {
  const [, payload, signature] = jwt.split('.');
  expect(output).not.toContain(payload);
  expect(output).not.toContain(signature);
}

describe('log lines never carry a bearer token', () => {
  it('through a full request cycle at DEBUG, accepted and refused', async () => {
    lines = [];
    expect((await t.post(event({ description: `see ${token}` }), { token })).status).toBe(202);
    expect((await t.get('/api/v1/audit/activities', { token })).status).toBe(200);
    const tampered = token.slice(0, -4) + 'AAAA';
    expect((await t.get('/api/v1/audit/activities', { token: tampered })).status).toBe(401);
    await t.services.accessLog!.flush();
    await t.services.writer.flush();
    const output = lines.join('\n');
    expect(lines.length).toBeGreaterThan(2);
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    assertNoToken(output, token);
    assertNoToken(output, tampered);
  });

  it('whatever shape the logged value has', () => {
    lines = [];
    const bearer = `Bearer ${token}`;
    log.info({ req: { headers: { authorization: bearer, cookie: 'sid=abc123secret' } } }, 'request headers');
    log.info({ headers: { Authorization: bearer } }, 'capitalised header');
    log.info({ upstream: { request: { headers: { 'x-api-key': 'k-0123456789', authorization: bearer } } } }, 'deeply nested');
    log.warn(`a message that quotes ${bearer}`);
    log.warn('format args: %s', bearer);
    log.error({ err: new Error(`verification failed for ${token}`) }, 'error with a token in its message');
    log.info({ list: [bearer, { token }] }, 'arrays');
    log.info({ callback: `https://idp.example/cb?state=1&access_token=${token.split('.')[2]}` }, 'url');
    log.child({ token, auth: bearer }).info('child bindings');
    log.info({ config: { jwt: { secret: 'hs256-secret-value-0123456789-abcdef' } } }, 'config');
    const output = lines.join('\n');
    expect(lines).toHaveLength(10);
    assertNoToken(output, token);
    expect(output).not.toContain('abc123secret');
    expect(output).not.toContain('k-0123456789');
    expect(output).not.toContain('hs256-secret-value');
    expect(output).toContain('[REDACTED]');
    // Everything else survives.
    expect(output).toContain('deeply nested');
    expect(output).toContain('https://idp.example/cb?state=1&access_token=[REDACTED]');
    expect(JSON.parse(lines[5]!)).toMatchObject({ err: { type: 'Error', message: 'verification failed for [REDACTED]' } });
  });

  it('does not alter what the caller logged', () => {
    const obj = { headers: { authorization: `Bearer ${token}` } };
    log.info(obj, 'original');
    expect(obj.headers.authorization).toBe(`Bearer ${token}`);
  });
});
