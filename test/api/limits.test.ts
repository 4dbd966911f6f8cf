// Abuse limits: the per-caller read rate limit (429 + Retry-After, exact under concurrent
// bursts), the request body cut off while streaming (413, nothing buffered, nothing stored), and
// the HTTP server's timeouts against slow clients, on a real server over loopback.
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { MAX_REQUEST_BYTES } from '../../src/event/limits.ts';
import { SERVER_TIMEOUTS, serve } from '../../src/server.ts';
import { bodyOf, createTestService, event, testEnv, testToken, type TestService } from '../support/service.ts';
import { normalizeEvents } from '../../src/ingest/normalize.ts';

const LIMIT = 10;
let t: TestService;
beforeAll(async () => {
  t = await createTestService({ AUDIT_READ_RATE_LIMIT: String(LIMIT) });
});
afterAll(async () => t.close());

describe('read rate limit', () => {
  it('answers 429 problem+json with Retry-After once a caller exceeds its reads per minute', async () => {
    const token = await t.token({ sub: 'seq' });
    const paths = ['/api/v1/audit/activities', '/api/v1/audit/activities/recent', '/api/v1/audit/export'];
    for (let i = 0; i < LIMIT; i++) {
      const res = await t.get(paths[i % paths.length]!, { token });
      expect(res.status, `read ${i + 1}`).toBe(200);
      expect(res.headers.get('ratelimit-limit')).toBe(String(LIMIT));
      await res.body?.cancel();
    }
    const res = await t.get('/api/v1/audit/activities', { token });
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const retry = Number(res.headers.get('retry-after'));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    expect(await res.json()).toMatchObject({ status: 429, type: 'https://audithouse.dev/problems/rate-limited' });
  });

  it('holds exactly under a concurrent burst', async () => {
    const token = await t.token({ sub: 'burst' });
    const res = await Promise.all(Array.from({ length: 60 }, () => t.get('/api/v1/audit/activities?limit=1', { token })));
    const statuses = res.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(60 - LIMIT);
  });

  it('is per caller identity: another caller is unaffected, a fresh token for the same caller is not a new budget', async () => {
    const first = await t.token({ sub: 'ident' });
    for (let i = 0; i < LIMIT; i++) expect((await t.get('/api/v1/audit/activities', { token: first })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100)); // a token minted a second later differs
    const second = await t.token({ sub: 'ident' });
    expect(second).not.toBe(first);
    expect((await t.get('/api/v1/audit/activities', { token: second })).status).toBe(429);
    expect((await t.get('/api/v1/audit/activities', { token: await t.token({ sub: 'someone-else' }) })).status).toBe(200);
    expect((await t.get('/api/v1/audit/activities', { token: await t.token({ sub: 'ident', tenant: 'globex' }) })).status).toBe(200);
  });

  it('limits reads only: posting still works for a caller out of read budget', async () => {
    const token = await t.token({ sub: 'burst' });
    expect((await t.get('/api/v1/audit/activities', { token })).status).toBe(429);
    expect((await t.post(event(), { token })).status).toBe(202);
  });
});

describe('request body limit while streaming', () => {
  it('cuts off a huge chunked body (no Content-Length) at the limit with 413, reading little past it, storing nothing', async () => {
    const before = await t.count();
    const chunk = new TextEncoder().encode(`${JSON.stringify(event({ description: 'x'.repeat(900) }))}\n`);
    let pulled = 0;
    let cancelled = false;
    // An endless NDJSON body: a server that buffered it would never answer.
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
      cancel() {
        cancelled = true;
      },
    });
    const res = await t.app.request('/api/v1/audit/activities', {
      method: 'POST',
      headers: { Authorization: `Bearer ${await t.token()}`, 'Content-Type': 'application/x-ndjson' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(pulled).toBeGreaterThan(MAX_REQUEST_BYTES);
    expect(pulled).toBeLessThan(MAX_REQUEST_BYTES + 64 * 1024);
    expect(cancelled).toBe(true);
    expect(await t.count()).toBe(before);
  });

  it('refuses a declared Content-Length over the limit before reading any of the body', async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(1024));
      },
    });
    const res = await t.app.request('/api/v1/audit/activities', {
      method: 'POST',
      headers: { Authorization: `Bearer ${await t.token()}`, 'Content-Type': 'application/json', 'Content-Length': String(1024 ** 3) },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(pulled).toBeLessThanOrEqual(1); // a stream may pre-pull one chunk; nothing is read past it
  });
});

describe('real HTTP server (loopback)', () => {
  let srv: Awaited<ReturnType<typeof serve>>;
  let token: string;
  beforeAll(async () => {
    const config = loadConfig(testEnv({ PORT: '0', HOST: '127.0.0.1', AUDIT_ACCESS_LOG_ENABLED: 'true', AUDIT_ACCESS_LOG_WINDOW_MS: '10' }));
    srv = await serve(config, { timeouts: { headersTimeout: 400, requestTimeout: 800, connectionsCheckingInterval: 100, socketIdleTimeout: 1500 } });
    token = await testToken();
  });
  afterAll(async () => srv?.close());

  it('ships with the documented timeouts', () => {
    expect(SERVER_TIMEOUTS).toEqual({ headersTimeout: 15_000, requestTimeout: 60_000, keepAliveTimeout: 5_000, socketIdleTimeout: 120_000, connectionsCheckingInterval: 2_000 });
    // This server runs with shorter test values; they reach the Node server.
    expect(srv.server.keepAliveTimeout).toBe(SERVER_TIMEOUTS.keepAliveTimeout);
    expect(srv.server.headersTimeout).toBe(400);
    expect(srv.server.requestTimeout).toBe(800);
    expect(srv.server.timeout).toBe(1500);
  });

  /** Writes `data`, then waits for the server to answer and close; resolves with what it sent. */
  function slowClient(data: string): Promise<{ response: string; ms: number }> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      let response = '';
      const socket = net.connect(srv.port, '127.0.0.1', () => socket.write(data));
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (response += d));
      socket.on('close', () => resolve({ response, ms: Date.now() - started }));
      socket.on('error', reject);
      setTimeout(() => {
        socket.destroy();
        reject(new Error('the server kept a slow client past 5 s'));
      }, 5_000).unref();
    });
  }

  it('drops a client that never finishes its headers (slowloris) with 408', async () => {
    const { response, ms } = await slowClient('GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
    expect(response).toMatch(/^HTTP\/1\.1 408/);
    expect(ms).toBeLessThan(3_000);
  });

  it('drops a client that never finishes its body with 408, storing nothing', async () => {
    const { response } = await slowClient(
      `POST /api/v1/audit/activities HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"activity_type":`,
    );
    expect(response).toMatch(/^HTTP\/1\.1 408/);
    const list = await fetch(`http://127.0.0.1:${srv.port}/api/v1/audit/activities?activity_type=user.login`, { headers: { Authorization: `Bearer ${token}` } });
    expect((await bodyOf(list, 'get', '/api/v1/audit/activities?activity_type=user.login')).data).toEqual([]);
  });

  it('answers 413 to a chunked upload that keeps going, while the client is still sending', async () => {
    // A server of its own with the shipped timeouts: with the 800 ms request timeout above, a
    // loaded machine did not read the 10 MiB before it and answered 408 instead.
    const roomy = await serve(loadConfig(testEnv({ PORT: '0', HOST: '127.0.0.1' })));
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request({
          host: '127.0.0.1', port: roomy.port, method: 'POST', path: '/api/v1/audit/activities',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/x-ndjson', 'Transfer-Encoding': 'chunked' },
        });
        const line = `${JSON.stringify(event({ description: 'y'.repeat(4000) }))}\n`.repeat(16);
        let sent = 0;
        let answered = false;
        req.on('response', (res) => {
          answered = true;
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        });
        req.on('error', (err) => (answered ? undefined : reject(err)));
        const pump = () => {
          while (!answered && sent < 200 * 1024 * 1024) {
            sent += line.length;
            if (!req.write(line)) {
              req.once('drain', pump);
              return;
            }
          }
          if (!answered) reject(new Error(`no answer after ${sent} bytes`));
        };
        pump();
      });
      expect(status).toBe(413);
    } finally {
      await roomy.close();
    }
  });

  it('destroys the socket of a client that stops reading an export, which ends the export', async () => {
    // A server of its own with default request timeouts and a short idle timeout (1.5 s).
    const config = loadConfig(testEnv({ PORT: '0', HOST: '127.0.0.1', AUDIT_ACCESS_LOG_ENABLED: 'true', AUDIT_ACCESS_LOG_WINDOW_MS: '10' }));
    const idle = await serve(config, { timeouts: { socketIdleTimeout: 1500 } });
    try {
      const rows = 12_000; // ~17 MB of NDJSON: more than loopback socket buffers hold
      const principal = { sub: 'alice', tenantId: 'acme', scopes: new Set(['audit:write']) };
      const raw = Array.from({ length: rows }, (_, i) => event({ activity_type: 'bulk.row', description: `${i} ${'z'.repeat(1000)}` }));
      const { rows: stored } = normalizeEvents(raw, { principal, ip: '', userAgent: '', requestId: 'seed', now: Date.now() }, idle.services.redactor);
      await idle.services.writer.write(stored);

      // The server's side of the export's connection: its close is what the stuck reader waits
      // for, and its 'timeout' says the idle timeout is what closed it.
      const serverSide = new Promise<{ socket: net.Socket; timedOut: () => boolean }>((resolve) => {
        idle.server.on('request', (req: http.IncomingMessage) => {
          if (!req.url?.includes('activity_type=bulk.row')) return;
          let timedOut = false;
          idle.server.on('timeout', (s: net.Socket) => s === req.socket && (timedOut = true));
          resolve({ socket: req.socket, timedOut: () => timedOut });
        });
      });

      // Read one chunk, then stop reading until the server has closed the connection, then
      // drain: the body must have ended incomplete. Until the answer starts, the client sends an
      // empty line every 200 ms (an HTTP/1.1 server ignores empty lines between requests, RFC
      // 9112 2.2): the idle timer also runs while the server computes the first batch, which under
      // load took longer than 1.5 s, and the server then dropped a connection it had not yet
      // answered. This way only a reader that stopped reading can be idle.
      const outcome = await new Promise<{ received: number; complete: boolean; timedOut: boolean }>((resolve, reject) => {
        let received = 0;
        let keepWarm: NodeJS.Timeout | undefined;
        const req = http.get({ host: '127.0.0.1', port: idle.port, path: '/api/v1/audit/export?activity_type=bulk.row', headers: { Authorization: `Bearer ${token}` } }, (res) => {
          clearInterval(keepWarm);
          res.once('data', () => {
            res.pause();
            void serverSide.then(({ socket }) => (socket.destroyed ? res.resume() : socket.once('close', () => res.resume())));
          });
          res.on('data', (chunk: Buffer) => (received += chunk.byteLength));
          res.on('error', () => {});
          res.on('close', () => void serverSide.then(({ timedOut }) => resolve({ received, complete: res.complete, timedOut: timedOut() })));
        });
        req.on('finish', () => (keepWarm = setInterval(() => req.socket?.write('\r\n'), 200)));
        req.on('error', (err) => {
          clearInterval(keepWarm);
          reject(new Error(`the export request failed before its answer: ${err.message}`));
        });
        // A guard, not a timing assumption: without the idle timeout the export would never end.
        setTimeout(() => reject(new Error('no end of the export after 45 s')), 45_000).unref();
      });
      expect(outcome.timedOut, 'closed by the idle timeout').toBe(true);
      expect(outcome.complete).toBe(false);
      expect(outcome.received).toBeLessThan(rows * 1000);

      // The export records its access event when its stream is cancelled, after the socket closed.
      const exportEvent = await vi.waitFor(async () => {
        await idle.services.accessLog!.flush();
        await idle.services.writer.flush();
        const accessed = await fetch(`http://127.0.0.1:${idle.port}/api/v1/audit/export?activity_type=audit.accessed`, { headers: { Authorization: `Bearer ${token}` } });
        const events = (await accessed.text()).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { details: { endpoint: string; row_count: number; completed?: boolean } });
        const found = events.find((e) => e.details.endpoint === 'GET /api/v1/audit/export' && e.details.completed === false);
        if (!found) throw new Error('no access event for the cut-short export yet');
        return found;
      }, { timeout: 30_000, interval: 100 });
      expect(exportEvent.details.row_count).toBeLessThan(rows);
    } finally {
      await idle.close();
    }
  });
});
