// The TypeScript client's bounds and edges against the real running service: the buffer bound
// and its policies, one bad event in a batch, token refresh, close() with the service away,
// the typed query helpers; plus the retry arithmetic and the wire types' agreement with zod.
import type { z } from '@hono/zod-openapi';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  AuditClient,
  AuditHttpError,
  BufferFullError,
  uuidv7,
  type AuditDeliveryError,
  type AuditEvent as ClientAuditEvent,
  type AuditEventInput as ClientAuditEventInput,
  type BufferPolicy,
} from '../../src/sdk/client/index.ts';
import { backoffDelay, parseRetryAfter } from '../../src/sdk/client/retry.ts';
import type { AuditEvent as ServerAuditEvent } from '../../src/event/model.ts';
import type { AuditEventInput as ServerAuditEventInput } from '../../src/event/input.ts';
import { startFront, startService, type RunningService } from '../support/running-service.ts';
import { tenantClient } from '../support/sdk-client.ts';

let svc: RunningService;

beforeAll(async () => {
  svc = await startService();
});
afterAll(() => svc?.close());

function gate() {
  let open!: () => void;
  const until = new Promise<void>((r) => (open = r));
  return { until, open };
}

describe('the buffer bound', () => {
  // 5,000 events into a 1,000-event buffer while the front holds the first two requests
  // unanswered (full batches leave as soon as they fill: events 1-200 are in flight): the bound
  // holds at every step, and the policy decides which events survive.
  async function fill(whenFull: BufferPolicy, tenant: string) {
    const held = gate();
    const front = await startFront(svc.url, () => ({ kind: 'hold', until: held.until }));
    const { client, errors } = await tenantClient(svc, tenant, {
      url: front.url,
      batchSize: 100,
      concurrency: 2,
      maxBufferSize: 1000,
      whenFull,
      // Only full batches leave while logging, however slow the machine: events 1-200 in flight.
      flushIntervalMs: 60_000,
    });
    const logged: string[] = [];
    let thrown = 0;
    let maxSeen = 0;
    for (let i = 0; i < 5000; i++) {
      try {
        logged.push(client.log({ activity_type: 'file.uploaded', action: 'file_upload', details: { i } }));
      } catch (err) {
        expect(err).toBeInstanceOf(BufferFullError);
        thrown++;
      }
      maxSeen = Math.max(maxSeen, client.stats.buffered);
    }
    await Promise.resolve(); // buffer-full reports are coalesced per tick
    const dropped = errors.filter((e) => e.kind === 'buffer-full').flatMap((e) => e.events.map((x) => x.id!));
    return { front, client, held, logged, dropped, errors, thrown, maxSeen };
  }

  it("'drop-newest' (the default) keeps the first 1,000 events and drops and reports the rest", async () => {
    const r = await fill('drop-newest', 'bound-newest');
    try {
      expect(r.maxSeen).toBe(1000);
      expect(r.client.stats).toMatchObject({ buffered: 1000, inFlight: 200, dropped: 4000 });
      expect(r.dropped).toEqual(r.logged.slice(1000));
      expect(r.errors.every((e) => e.kind === 'buffer-full')).toBe(true);
      r.held.open();
      expect(await r.client.flush({ timeoutMs: 15_000 })).toBe(true);
      expect(r.client.stats).toMatchObject({ buffered: 0, sent: 1000, dropped: 4000 });
      expect(new Set(await svc.ids('bound-newest'))).toEqual(new Set(r.logged.slice(0, 1000)));
      await r.client.close();
    } finally {
      await r.front.close();
    }
  });

  it("'drop-oldest' keeps what is in flight and the newest events, dropping the oldest waiting ones", async () => {
    const r = await fill('drop-oldest', 'bound-oldest');
    try {
      expect(r.maxSeen).toBe(1000);
      expect(r.client.stats).toMatchObject({ buffered: 1000, inFlight: 200, dropped: 4000 });
      const inFlight = r.logged.slice(0, 200);
      const newest = r.logged.slice(-800);
      expect(r.dropped).toEqual(r.logged.slice(200, 4200));
      r.held.open();
      expect(await r.client.flush({ timeoutMs: 15_000 })).toBe(true);
      expect(new Set(await svc.ids('bound-oldest'))).toEqual(new Set([...inFlight, ...newest]));
      await r.client.close();
    } finally {
      await r.front.close();
    }
  });

  it("'throw' makes log() throw BufferFullError once 1,000 events are held", async () => {
    const r = await fill('throw', 'bound-throw');
    try {
      expect(r.maxSeen).toBe(1000);
      expect(r.thrown).toBe(4000);
      expect(r.logged).toHaveLength(1000);
      expect(r.client.stats.dropped).toBe(0);
      r.held.open();
      expect(await r.client.flush({ timeoutMs: 15_000 })).toBe(true);
      expect(await svc.rows('bound-throw')).toBe(1000);
      await r.client.close();
    } finally {
      await r.front.close();
    }
  });
});

describe('edges of delivery', () => {
  it('drops only the invalid event of a refused batch and delivers the others', async () => {
    const { client, errors } = await tenantClient(svc, 'edges', { flushIntervalMs: 5 });
    const good = [0, 1, 2, 3].map((i) => client.log({ activity_type: 'user.login', action: 'login', details: { i } }));
    const bad = client.log({ activity_type: 'user.login', action: 'login', severity: 'SEVERE' as never });
    const more = [4, 5].map((i) => client.log({ activity_type: 'user.login', action: 'login', details: { i } }));
    expect(await client.flush({ timeoutMs: 10_000 })).toBe(true);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.kind).toBe('rejected');
    expect(errors[0]!.events.map((e) => e.id)).toEqual([bad]);
    expect((errors[0]!.cause as AuditHttpError).status).toBe(422);
    expect((errors[0]!.cause as AuditHttpError).problem?.errors?.[0]).toMatchObject({ index: 4, field: 'severity' });
    expect(client.stats).toMatchObject({ sent: 6, rejected: 1 });
    expect(new Set(await svc.ids('edges'))).toEqual(new Set([...good, ...more]));
    await client.close();
  });

  it('asks getToken for every request and retries a 401 once with a fresh token', async () => {
    const fresh = await svc.token({ tenant: 'tokens' });
    const tokens = ['not-a-jwt', fresh];
    let calls = 0;
    const client = new AuditClient({ url: svc.url, getToken: () => tokens[Math.min(calls++, 1)]!, flushIntervalMs: 5 });
    const id = client.log({ activity_type: 'user.login', action: 'login' });
    expect(await client.flush({ timeoutMs: 10_000 })).toBe(true);
    expect(calls).toBe(2);
    expect(client.stats).toMatchObject({ sent: 1, rejected: 0 });
    expect(await svc.ids('tokens')).toEqual([id]);
    await client.close();
  });

  it('close() gives up after its timeout with the service away, reporting what was not delivered', async () => {
    const errors: AuditDeliveryError[] = [];
    // Nothing listens on port 9 of loopback: every attempt is refused.
    const client = new AuditClient({ url: 'http://127.0.0.1:9', token: 'x', flushIntervalMs: 5, initialRetryDelayMs: 20, onError: (e) => errors.push(e) });
    const ids = [client.log({ activity_type: 'user.login', action: 'login' }), client.log({ activity_type: 'user.logout', action: 'logout' })];
    const started = Date.now();
    await client.close({ timeoutMs: 400 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(errors.some((e) => e.kind === 'retrying')).toBe(true);
    const abandoned = errors.filter((e) => e.kind === 'abandoned').flatMap((e) => e.events.map((x) => x.id));
    expect(abandoned.sort()).toEqual([...ids].sort());
    expect(client.stats).toMatchObject({ buffered: 0, abandoned: 2, sent: 0 });
    // After close, log() drops and reports instead of buffering.
    client.log({ activity_type: 'user.login', action: 'login' });
    expect(errors.at(-1)!.kind).toBe('closed');
    expect(client.stats.buffered).toBe(0);
  });

  it('refuses an event over 64 KiB at log() time without sending it', async () => {
    const errors: AuditDeliveryError[] = [];
    const client = new AuditClient({ url: svc.url, token: 'unused', onError: (e) => errors.push(e) });
    client.log({ activity_type: 'file.uploaded', action: 'file_upload', description: 'x'.repeat(70_000) });
    expect(errors.map((e) => e.kind)).toEqual(['rejected']);
    expect(client.stats).toMatchObject({ buffered: 0, rejected: 1 });
    await client.close();
  });
});

describe('typed query helpers', () => {
  it('list, recent, get, pages and iterate read back what was logged', async () => {
    const tenant = 'reader';
    const client = new AuditClient({ url: svc.url, token: await svc.token({ tenant }), flushIntervalMs: 5 });
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) {
      ids.push(client.log({
        activity_type: i % 5 === 0 ? 'file.deleted' : 'file.downloaded',
        action: i % 5 === 0 ? 'file_delete' : 'file_download',
        severity: i % 5 === 0 ? 'MEDIUM' : 'LOW',
        user_id: `u-${i % 3}`,
        resource_type: 'file',
        resource_id: `f-${i}`,
        timestamp: new Date(Date.now() - (25 - i) * 1000).toISOString(),
      }));
    }
    expect(await client.flush({ timeoutMs: 10_000 })).toBe(true);

    const page = await client.list({ limit: 10 });
    expect(page.data.map((e) => e.id)).toEqual([...ids].reverse().slice(0, 10));
    expect(page.next_cursor).toEqual(expect.any(String));

    const medium = await client.list({ severity: ['MEDIUM', 'HIGH'], activity_type: 'file.deleted' });
    expect(medium.data.map((e) => e.resource_id).sort()).toEqual(['f-0', 'f-10', 'f-15', 'f-20', 'f-5']);

    const pages = [];
    for await (const p of client.pages({ limit: 10 })) pages.push(p.data.length);
    expect(pages).toEqual([10, 10, 5]);
    const all: string[] = [];
    for await (const e of client.iterate({ limit: 7, user_id: 'u-1' })) all.push(e.id);
    expect(all).toEqual(ids.filter((_, i) => i % 3 === 1).reverse());

    const recent = await client.recent({ days: 1, limit: 3 });
    expect(recent.map((e) => e.id)).toEqual([...ids].reverse().slice(0, 3));

    expect(await client.get(ids[3]!)).toMatchObject({ id: ids[3], resource_id: 'f-3', tenant_id: tenant });
    expect(await client.get(uuidv7())).toBeUndefined();
    await client.close();
  });

  it('summary() asks GET /api/v1/audit/summary with the bearer token and returns its JSON', async () => {
    const canned = { by_severity: { LOW: 3 }, daily: [] };
    const front = await startFront(svc.url, () => ({ kind: 'respond', status: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(canned) }));
    try {
      const client = new AuditClient({ url: `${front.url}/`, token: 'tok-123' });
      expect(await client.summary({ days: 30 })).toEqual(canned);
      expect(front.requests[0]).toMatchObject({ method: 'GET', url: '/api/v1/audit/summary?days=30' });
      expect(front.requests[0]!.headers.authorization).toBe('Bearer tok-123');
      await client.close();
    } finally {
      await front.close();
    }
  });

  it('query errors throw AuditHttpError carrying the problem+json', async () => {
    const client = new AuditClient({ url: svc.url, token: await svc.token({ scope: 'audit:write' }) });
    const err = await client.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuditHttpError);
    expect((err as AuditHttpError).status).toBe(403);
    expect((err as AuditHttpError).problem).toMatchObject({ status: 403, type: expect.stringContaining('missing-scope') });
    const bad = await new AuditClient({ url: svc.url, token: await svc.token() }).list({ limit: 5000 }).catch((e: unknown) => e);
    expect((bad as AuditHttpError).status).toBe(400);
    await client.close();
  });
});

describe('retry arithmetic and ids', () => {
  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('backs off exponentially, jittered within [base/2, base], capped', () => {
    const o = { initialDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(1, o, () => 0)).toBe(50);
    expect(backoffDelay(1, o, () => 1)).toBe(100);
    expect(backoffDelay(3, o, () => 1)).toBe(400);
    expect(backoffDelay(10, o, () => 1)).toBe(1000);
    expect(backoffDelay(10, o, () => 0)).toBe(500);
  });

  it('makes RFC 9562 UUIDv7 ids that sort by time', () => {
    const a = uuidv7(1_700_000_000_000);
    const b = uuidv7(1_700_000_000_001);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a < b).toBe(true);
    expect(a.slice(0, 13).replace('-', '')).toBe((1_700_000_000_000).toString(16).padStart(12, '0'));
  });

  it('keeps the hand-written wire types in step with the zod schemas (checked by tsc)', () => {
    type ServerInput = z.input<typeof ServerAuditEventInput>;
    expectTypeOf<keyof ClientAuditEventInput>().toEqualTypeOf<keyof ServerInput>();
    expectTypeOf<ClientAuditEventInput>().toExtend<ServerInput>();
    expectTypeOf<keyof ClientAuditEvent>().toEqualTypeOf<keyof ServerAuditEvent>();
    expectTypeOf<ClientAuditEvent>().toExtend<ServerAuditEvent>();
  });
});
