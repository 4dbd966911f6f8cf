// Ingest over a real socket (the server adapter's fast body path, not app.request): a body with a
// Content-Length is read in one go, a chunked one is streamed and cut at the limit, and either
// way an oversized body gets 413 and stores nothing.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { serve } from '../../src/server.ts';
import { bodyOf, event, testDataDir, testEnv, testToken } from '../support/service.ts';

interface Answer {
  status: number;
  body: string;
}

function post(port: number, token: string, body: Buffer, o: { chunked?: boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path: '/api/v1/audit/activities',
      method: 'POST',
      agent: false, // a fresh connection each time: a 413 closes the one it answered on
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': 'application/json',
        ...(o.chunked ? { 'Transfer-Encoding': 'chunked' } : { 'Content-Length': body.length }),
      },
    }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    // The server may answer 413 and close before the whole body is sent.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? resolve({ status: 413, body: '' }) : reject(err)));
    if (o.chunked) {
      for (let i = 0; i < body.length; i += 1 << 20) req.write(body.subarray(i, i + (1 << 20)));
      req.end();
    } else {
      req.end(body);
    }
  });
}

describe('ingest over HTTP', () => {
  const dataDir = testDataDir();
  const database = `h_${process.pid}`;
  let server: Awaited<ReturnType<typeof serve>>;
  let token: string;

  beforeAll(async () => {
    server = await serve(loadConfig(testEnv({ PORT: '0', HOST: '127.0.0.1', AUDIT_DATA_DIR: dataDir, CLICKHOUSE_DATABASE: database })));
    token = await testToken();
  });
  afterAll(async () => {
    await server.close();
  });

  async function stored(): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${server.port}/api/v1/audit/activities?limit=1000`, { headers: { Authorization: `Bearer ${token}` } });
    return (await bodyOf(res, 'get', '/api/v1/audit/activities?limit=1000')).data.length;
  }

  it('stores a batch sent with a Content-Length and one sent chunked', async () => {
    const batch = Buffer.from(JSON.stringify(Array.from({ length: 50 }, (_, i) => event({ description: `event ${i} – ünïcode` }))));
    expect((await post(server.port, token, batch)).status).toBe(202);
    expect((await post(server.port, token, batch, { chunked: true })).status).toBe(202);
    expect(await stored()).toBe(100);
  });

  it('answers 413 to an oversized body, declared or chunked, and stores nothing of it', async () => {
    const before = await stored();
    const big = Buffer.from(JSON.stringify(Array.from({ length: 9000 }, () => event({ description: 'x'.repeat(1200) }))));
    expect(big.length).toBeGreaterThan(10 * 1024 * 1024);
    const declared = await post(server.port, token, big);
    expect(declared.status).toBe(413);
    const chunked = await post(server.port, token, big, { chunked: true });
    expect(chunked.status).toBe(413);
    expect(await stored()).toBe(before);
  });

  it('refuses a body that is not UTF-8 with 400', async () => {
    const bad = Buffer.concat([Buffer.from('[{"activity_type":"user.login","action":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]')]);
    const res = await post(server.port, token, bad);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).type).toMatch(/invalid-encoding/);
  });
});
