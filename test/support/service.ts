// The test fixture: the test configuration and a real service on it (embedded ClickHouse, real
// migrations, real JWT verification) on a database of its own. One engine directory per test
// process (libchdb binds one per process); one database per service. Every other helper builds
// its services from testEnv()/testConfig() here, so the test settings are written down once.
//
// Two ways in: `serviceTest` (a vitest fixture, one service per file, closed after the file) and
// createTestService() for a beforeAll or a test that needs a service of its own.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, test } from 'vitest';
import { createApp } from '../../src/app.ts';
import { mintToken } from '../../src/auth/jwt.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import { startServices, type StartedServices } from '../../src/services.ts';
import type { FaultInjector } from './faults.ts';
import type { ApiBody, ApiResponse } from './api.ts';

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

/** A fresh database name: each service (and each file) sees only its own rows. */
export function testDatabase(prefix = 't'): string {
  return `${prefix}_${crypto.randomBytes(6).toString('hex')}`;
}

/**
 * What every test service runs with: the process's engine directory, a database of its own
 * (`CLICKHOUSE_DATABASE` in `env` picks one, e.g. to restart onto the same data), the test
 * secret, silent logs. `env` adds to or overrides it.
 */
export function testEnv(env: Record<string, string> = {}): Record<string, string> {
  return {
    AUDIT_DATA_DIR: testDataDir(),
    CLICKHOUSE_DATABASE: testDatabase(),
    AUDIT_JWT_SECRET: TEST_SECRET,
    AUDIT_LOG_LEVEL: 'silent',
    ...env,
  };
}

/** What createTestService adds to testEnv(). */
export const SERVICE_ENV: Readonly<Record<string, string>> = {
  AUDIT_BATCH_LINGER_MS: '1',
  // Insert within a few ms of the acknowledgement (production: within a second), so that a
  // store fault shows up at once; the write-path tests cover the default batching.
  AUDIT_BATCH_MAX_WAIT_MS: '5',
  // Off unless a test turns them on: access events are written asynchronously and would land
  // in row counts and listings of suites that test something else; a rate limit would cap
  // suites that read a lot. The access-log and limits tests turn them on.
  AUDIT_ACCESS_LOG_ENABLED: 'false',
  AUDIT_READ_RATE_LIMIT: '0',
};

/** The configuration of a test service (testEnv() + SERVICE_ENV + `env`), parsed as in production. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig(testEnv({ ...SERVICE_ENV, ...env }));
}

/** Mints a token signed with the test secret (tenant acme, read and write, sub alice unless given). */
export function testToken(o: { tenant?: string; scope?: string; sub?: string } = {}): Promise<string> {
  return mintToken(TEST_SECRET, { tenant: o.tenant ?? 'acme', scope: o.scope ?? 'audit:read audit:write', sub: o.sub ?? 'alice' });
}

export interface TestService {
  services: StartedServices;
  app: ReturnType<typeof createApp>;
  database: string;
  token(o?: { tenant?: string; scope?: string; sub?: string }): Promise<string>;
  /** POST /api/v1/audit/activities; json() is typed as its 202 body. */
  post(body: unknown, o?: { token?: string; contentType?: string; headers?: Record<string, string> }): Promise<ApiResponse<ApiBody<'post', '/api/v1/audit/activities'>>>;
  /** GET a path (with its query); json() is typed as the success body of the route that answers it. */
  get<P extends string>(pathAndQuery: P, o?: { token?: string }): Promise<ApiResponse<ApiBody<'get', P>>>;
  /**
   * Rows in audit_activities (all tenants), once everything acknowledged so far is stored (or,
   * while the store fails, after the next failed insert).
   */
  count(): Promise<number>;
  close(): Promise<void>;
}

/** `faults`: a FaultInjector for the durability tests (store outage, latency, disk failure). */
export async function createTestService(env: Record<string, string> = {}, opts: { faults?: FaultInjector; log?: Logger } = {}): Promise<TestService> {
  const config = testConfig(env);
  const database = config.clickhouse.database;
  const services = await startServices(config, opts.log ?? createLogger({ level: 'silent' }), opts);
  const app = createApp(services);
  const defaultToken = await testToken();
  const t: TestService = {
    services,
    app,
    database,
    token: testToken,
    // app.request answers a plain Response; the routes' types say what its JSON is.
    post: async (body, o = {}) =>
      (await app.request('/api/v1/audit/activities', {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${o.token ?? defaultToken}`,
          'Content-Type': o.contentType ?? 'application/json',
          ...o.headers,
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      })) as ApiResponse<never>,
    get: async (p, o = {}) => (await app.request(p, { headers: { Authorization: `Bearer ${o.token ?? defaultToken}` } })) as ApiResponse<never>,
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

/**
 * `it` with a `service` fixture: one service per test file, started on first use and closed
 * after the file. Its env is the `serviceEnv` fixture: `serviceTest.override('serviceEnv',
 * { AUDIT_READ_RATE_LIMIT: '10' })` at the top of a file sets it.
 */
export const serviceTest = test
  .extend('serviceEnv', { scope: 'file' }, {} as Record<string, string>)
  .extend('service', { scope: 'file' }, async ({ serviceEnv }, { onCleanup }) => {
    const t = await createTestService(serviceEnv);
    onCleanup(() => t.close());
    return t;
  });

/** A valid event input; `over` replaces or adds fields. */
export function event(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { activity_type: 'user.login', action: 'login', description: 'signed in', ...over };
}

export { bodyOf, problemOf, type ApiBody, type ApiResponse, type Problem } from './api.ts';
