// Reads while the store is unreachable: 503 + Retry-After (a condition to wait out), not a 500.
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestService, problemOf, type TestService } from '../support/service.ts';

let t: TestService;
beforeAll(async () => {
  // A port that was free a moment ago and has nothing listening: connections are refused.
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  t = await createTestService({ CLICKHOUSE_URL: `http://127.0.0.1:${port}` });
});
afterAll(async () => t.close());

it('answers reads with 503 problem+json and Retry-After while ClickHouse is unreachable', async () => {
  for (const path of ['/api/v1/audit/activities', '/api/v1/audit/activities/recent', '/api/v1/audit/activities/00000000-0000-4000-8000-000000000001']) {
    const res = await t.get(path);
    expect(res.status, path).toBe(503);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.headers.get('retry-after')).toBe('5');
    const body = await problemOf(res);
    expect(body.detail).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/); // no internals leaked
  }
});
