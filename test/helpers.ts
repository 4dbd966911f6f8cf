// Test fixture: a real service (embedded ClickHouse, real migrations, real JWT verification) on
// a database of its own. One engine directory per test process; one database per context.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { createApp } from '../src/app.ts';
import { mintToken } from '../src/auth/jwt.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger, type Logger } from '../src/logger.ts';
import { startServices, type StartedServices } from '../src/services.ts';
import type { FaultInjector } from './support/faults.ts';

export const TEST_SECRET = 'test-secret-0123456789-0123456789-abcdef';

let processDataDir: string | undefined;
// Registered when a test file imports this module, so it runs after the file's own afterAll
// hooks (vitest runs them as a stack): the file's engine directory goes with it. (Forked test
// workers are stopped without an 'exit' event, so a process hook would not run.)
afterAll(() => {
  if (processDataDir) fs.rmSync(processDataDir, { recursive: true, force: true });
});
/** One embedded-engine directory per test process (libchdb binds one per process). */
export function testDataDir(): string {
  if (!processDataDir) {
    processDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'audithouse-test-'));
  }
  return processDataDir;
}

export interface TestService {
  services: StartedServices;
  app: ReturnType<typeof createApp>;
  database: string;
  token(o?: { tenant?: string; scope?: string; sub?: string }): Promise<string>;
  post(body: unknown, o?: { token?: string; contentType?: string; headers?: Record<string, string> }): Promise<Response>;
  get(pathAndQuery: string, o?: { token?: string }): Promise<Response>;
  /**
   * Rows in audit_activities (all tenants), once everything acknowledged so far is stored (or,
   * while the store fails, after the next failed insert).
   */
  count(): Promise<number>;
  close(): Promise<void>;
}

/** `faults`: a FaultInjector for the durability tests (store outage, latency, disk failure). */
export async function createTestService(env: Record<string, string> = {}, opts: { faults?: FaultInjector; log?: Logger } = {}): Promise<TestService> {
  const database = `t_${crypto.randomBytes(6).toString('hex')}`;
  const config = loadConfig({
    AUDIT_DATA_DIR: testDataDir(),
    CLICKHOUSE_DATABASE: database,
    AUDIT_JWT_SECRET: TEST_SECRET,
    AUDIT_LOG_LEVEL: 'silent',
    AUDIT_BATCH_LINGER_MS: '1',
    // Insert within a few ms of the acknowledgement (production: within a second), so that a
    // store fault shows up at once; test/write-path.test.ts covers the default batching.
    AUDIT_BATCH_MAX_WAIT_MS: '5',
    // Off unless a test turns them on: access events are written asynchronously and would land
    // in row counts and listings of suites that test something else; a rate limit would cap
    // suites that read a lot. test/access-log.test.ts and test/limits.test.ts turn them on.
    AUDIT_ACCESS_LOG_ENABLED: 'false',
    AUDIT_READ_RATE_LIMIT: '0',
    ...env,
  });
  const services = await startServices(config, opts.log ?? createLogger({ level: 'silent' }), opts);
  const app = createApp(services);
  const defaultToken = await mintToken(TEST_SECRET, { tenant: 'acme', scope: 'audit:read audit:write', sub: 'alice' });
  const t: TestService = {
    services,
    app,
    database,
    token: (o = {}) => mintToken(TEST_SECRET, { tenant: o.tenant ?? 'acme', scope: o.scope ?? 'audit:read audit:write', sub: o.sub ?? 'alice' }),
    post: async (body, o = {}) =>
      app.request('/api/v1/audit/activities', {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${o.token ?? defaultToken}`,
          'Content-Type': o.contentType ?? 'application/json',
          ...o.headers,
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    get: async (p, o = {}) => app.request(p, { headers: { Authorization: `Bearer ${o.token ?? defaultToken}` } }),
    async count() {
      await services.writer.flush({ timeoutMs: 15_000, failOnError: true });
      const r = await services.store.query<{ n: string }>(`SELECT count() AS n FROM ${services.store.table('audit_activities')}`);
      return Number(r[0]!.n);
    },
    async close() {
      await services.shutdown();
    },
  };
  return t;
}

export function event(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { activity_type: 'user.login', action: 'login', description: 'signed in', ...over };
}
