// The TypeScript client against the real running service (serve() on a loopback port, embedded
// ClickHouse): volume from concurrent callers, a restart mid-stream, a 429/503 storm.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFront, startService, type FrontRequest, type RunningService } from '../support/running-service.ts';
import { tenantClient } from '../support/sdk-client.ts';

let svc: RunningService;

beforeAll(async () => {
  svc = await startService();
});
afterAll(() => svc?.close());

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tick = () => new Promise((r) => setImmediate(r));

/** Asserts the tenant holds exactly these ids, each stored once. */
async function expectStoredExactlyOnce(ids: string[], tenant: string) {
  const stored = await svc.ids(tenant);
  expect(stored.length).toBe(ids.length);
  expect(new Set(stored).size).toBe(stored.length);
  expect(new Set(stored)).toEqual(new Set(ids));
}

describe('AuditClient delivery', () => {
  it('delivers 10,000 events logged by 50 concurrent callers exactly once', async () => {
    const tenant = 'volume';
    const { client, errors } = await tenantClient(svc, tenant, {
      batchSize: 400,
      concurrency: 4,
      flushIntervalMs: 20,
    });
    const ids: string[] = [];
    const caller = async (c: number) => {
      for (let i = 0; i < 200; i++) {
        ids.push(client.log({ activity_type: 'file.downloaded', action: 'file_download', resource_type: 'file', resource_id: `f-${c}-${i}`, details: { caller: c, i } }));
        if (i % 7 === 0) await tick();
      }
    };
    await Promise.all(Array.from({ length: 50 }, (_, c) => caller(c)));
    expect(await client.flush({ timeoutMs: 25_000 })).toBe(true);
    expect(errors).toEqual([]);
    expect(client.stats).toMatchObject({ buffered: 0, sent: 10_000, dropped: 0, rejected: 0, abandoned: 0 });
    expect(new Set(ids).size).toBe(10_000);
    await expectStoredExactlyOnce(ids, tenant);
    const one = await client.get(ids[4321]!);
    expect(one).toMatchObject({ id: ids[4321], activity_type: 'file.downloaded', user_id: 'svc-files', tenant_id: tenant });
    await client.close();
  });

  it('loses nothing when the service restarts mid-stream: the client retries until it is back', async () => {
    const tenant = 'restart';
    const { client, errors } = await tenantClient(svc, tenant, {
      batchSize: 100,
      flushIntervalMs: 10,
      initialRetryDelayMs: 50,
      maxRetryDelayMs: 400,
    });
    const ids: string[] = [];
    let downWhileLogging = 0;
    let restart: Promise<void> | undefined;
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 100; i++) ids.push(client.log({ activity_type: 'user.login', action: 'login', description: `round ${round} #${i}` }));
      if (round === 8) {
        // Stop (as on SIGTERM: in-flight requests finish, the writer flushes), stay down ~600 ms, start again.
        restart = (async () => {
          await svc.stop();
          await pause(600);
          await svc.start();
        })();
      }
      if (round > 8 && restart) downWhileLogging++;
      await pause(40);
    }
    await restart;
    expect(await client.flush({ timeoutMs: 20_000 })).toBe(true);
    expect(downWhileLogging).toBeGreaterThan(0);
    // The outage was seen (retries happened), and nothing was lost or doubled.
    expect(client.stats.retries).toBeGreaterThan(0);
    expect(errors.some((e) => e.kind === 'retrying')).toBe(true);
    expect(errors.filter((e) => e.kind !== 'retrying')).toEqual([]);
    expect(client.stats).toMatchObject({ buffered: 0, sent: 3000, dropped: 0, rejected: 0, abandoned: 0 });
    await expectStoredExactlyOnce(ids, tenant);
    await client.close();
  });

  it('survives a 429/503 storm, waits as Retry-After says, and a lost 202 does not duplicate', async () => {
    const tenant = 'storm';
    let throttled = 0;
    let lostAcks = 0;
    const front = await startFront(svc.url, (r) => {
      if (!r.url.startsWith('/api/v1/audit/activities') || r.method !== 'POST') return { kind: 'forward' };
      if (throttled < 4) {
        throttled++;
        return { kind: 'respond', status: throttled % 2 ? 429 : 503, headers: { 'Retry-After': '1' } };
      }
      if (lostAcks < 2) {
        lostAcks++;
        // Stored by the service, but the client sees a 503 (no Retry-After: its own backoff).
        return { kind: 'forward-then-respond', status: 503 };
      }
      return { kind: 'forward' };
    });
    try {
      const { client, errors } = await tenantClient(svc, tenant, {
        url: front.url,
        batchSize: 250,
        concurrency: 2,
        // Only full batches leave while logging (flush() sends the rest): 8 batches of 250.
        flushIntervalMs: 60_000,
        initialRetryDelayMs: 50,
      });
      const ids: string[] = [];
      for (let i = 0; i < 2000; i++) ids.push(client.log({ activity_type: 'api.request', action: 'api_request', details: { i } }));
      const started = Date.now();
      expect(await client.flush({ timeoutMs: 20_000 })).toBe(true);
      expect(throttled).toBe(4);
      expect(lostAcks).toBe(2);
      // Four throttling answers of Retry-After: 1 s each, none overlapping by much: several seconds.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);

      // Per event: after an answer carrying Retry-After, its next attempt came no earlier.
      const attempts = new Map<string, FrontRequest[]>();
      for (const r of front.requests) for (const id of r.ids) attempts.set(id, [...(attempts.get(id) ?? []), r]);
      let checked = 0;
      for (const list of attempts.values()) {
        for (let i = 1; i < list.length; i++) {
          const prev = list[i - 1]!;
          if (prev.retryAfter) {
            checked++;
            expect(list[i]!.arrivedAt - prev.answeredAt!).toBeGreaterThanOrEqual(Number(prev.retryAfter) * 1000 - 5);
          }
        }
      }
      expect(checked).toBeGreaterThanOrEqual(4 * 250 - 1);

      expect(client.stats).toMatchObject({ buffered: 0, sent: 2000, dropped: 0, rejected: 0, abandoned: 0 });
      expect(client.stats.retries).toBe(6);
      const retrying = errors.filter((e) => e.kind === 'retrying');
      expect(retrying.length).toBe(6);
      expect(errors.length).toBe(6);
      // The lost acks: those batches reached the service twice, and are stored once.
      await expectStoredExactlyOnce(ids, tenant);
      await client.close();
    } finally {
      await front.close();
    }
  });
});
