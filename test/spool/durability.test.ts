// Durable ingest against the real embedded engine, with faults injected in-process: a store
// outage, a slow store, a full spool, a failing disk, a torn record left by a crash. Every
// acknowledged event must end up stored exactly once; every refusal must say when to retry.
import crypto from 'node:crypto';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventRow } from '../../src/event/model.ts';
import { FaultInjector } from '../support/faults.ts';
import { Spool } from '../../src/spool/spool.ts';
import { createTestService, event, testDataDir, type TestService, problemOf } from '../support/service.ts';

const services: TestService[] = [];
afterEach(async () => {
  for (const t of services.splice(0)) await t.close().catch(() => {});
});

async function start(env: Record<string, string> = {}, opts: Parameters<typeof createTestService>[1] = {}): Promise<TestService> {
  const t = await createTestService(env, opts);
  services.push(t);
  return t;
}

async function stop(t: TestService): Promise<void> {
  services.splice(services.indexOf(t), 1);
  await t.close();
}

const uuid = () => crypto.randomUUID();
const batch = (n: number, tag = 'e') => Array.from({ length: n }, (_, i) => event({ id: uuid(), description: `${tag} ${i}` }));
const idsOf = (events: Array<Record<string, unknown>>) => events.map((e) => e.id as string);

/** Polls until `fn` is truthy; bounded. */
async function waitFor<T>(fn: () => Promise<T> | T, what: string, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A client honouring 429/503 + Retry-After (sped up): retries the same ids until accepted (bounded). */
async function postUntilAccepted(t: TestService, events: Array<Record<string, unknown>>, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await t.post(events);
    if (res.status === 202) return;
    expect([429, 503]).toContain(res.status);
    expect(res.headers.get('Retry-After')).toMatch(/^\d+$/);
    if (Date.now() > until) throw new Error(`still refused with ${res.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Posts `n` batches of 4; each refusal is checked by `refusal` and its batch kept for the client's retry. */
async function postBatches(t: TestService, n: number, tag: string, refusal: (res: Response) => Promise<void> | void) {
  const accepted: string[] = [];
  const refused: Array<Array<Record<string, unknown>>> = [];
  for (let i = 0; i < n; i++) {
    const b = batch(4, `${tag}-${i}`);
    const res = await t.post(b);
    if (res.status === 202) accepted.push(...idsOf(b));
    else {
      await refusal(res);
      refused.push(b);
    }
  }
  return { accepted, refused };
}

async function readyz(t: TestService): Promise<{ status: number; body: Record<string, any> }> {
  const res = await t.app.request('/readyz');
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** Ready, and everything acknowledged is stored (a ready instance may still hold events in the log for a moment). */
const drained = (t: TestService) => waitFor(async () => {
  const r = await readyz(t);
  return r.body.status === 'ready' && r.body.spool?.events === 0;
}, 'the spool to drain');

/** How often each id is stored (ids absent from the table are absent from the map). */
async function storedCounts(t: TestService, ids: string[]): Promise<Map<string, number>> {
  const rows = await t.services.store.query<{ event_id: string; n: string }>(
    `SELECT toString(id) AS event_id, count() AS n FROM ${t.services.store.table('audit_activities')} WHERE id IN {ids:Array(UUID)} GROUP BY id`,
    { ids },
  );
  return new Map(rows.map((r) => [r.event_id, Number(r.n)]));
}

async function expectStoredOnce(t: TestService, ids: string[]): Promise<void> {
  const counts = await storedCounts(t, ids);
  const missing = ids.filter((id) => !counts.has(id));
  const duplicated = [...counts].filter(([, n]) => n !== 1);
  expect({ missing: missing.length, duplicated: duplicated.length }).toEqual({ missing: 0, duplicated: 0 });
}

async function metric(t: TestService, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = t.services.metrics.registry.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  return (await m.get()).values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((n, v) => n + v.value, 0);
}

function captureLog() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

describe('durable ingest', () => {
  it('absorbs a store outage in the spool: 202s, /readyz degraded, log lines, then everything stored exactly once', async () => {
    const faults = new FaultInjector();
    const { log, lines } = captureLog();
    const t = await start({}, { faults, log });
    const before = await readyz(t);
    expect(before).toMatchObject({ status: 200, body: { status: 'ready' } });

    faults.failStore();
    const requests = Array.from({ length: 30 }, (_, i) => batch(1 + (i % 5), `outage-${i}`));
    const responses = await Promise.all(requests.map((b) => t.post(b)));
    expect(responses.map((r) => r.status)).toEqual(requests.map(() => 202));
    const ids = requests.flatMap(idsOf);
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as Array<{ ids: string[] }>;
    expect(bodies.flatMap((b) => b.ids)).toEqual(ids);

    expect(await t.count()).toBe(0); // acknowledged from the spool, not (yet) in the store
    const degraded = await readyz(t);
    expect(degraded.status).toBe(200);
    expect(degraded.body).toMatchObject({ status: 'degraded', reason: 'store-failing', spool: { events: ids.length, accepting: true } });
    expect(await metric(t, 'audit_spool_events')).toBe(ids.length);
    expect(await metric(t, 'audit_spool_bytes')).toBeGreaterThan(0);
    expect(await metric(t, 'audit_ingest_degraded')).toBe(1);
    expect(lines.some((l) => l.msg === 'ingest degraded: the store does not take writes; acknowledged events wait in the log, retrying with backoff' && l.level === 40)).toBe(true);

    faults.heal();
    await drained(t);
    await expectStoredOnce(t, ids);
    expect(await t.count()).toBe(ids.length);
    expect(await metric(t, 'audit_spool_drained_events_total')).toBe(ids.length);
    expect(await metric(t, 'audit_spool_events')).toBe(0);
    expect(await metric(t, 'audit_spool_bytes')).toBe(0);
    expect(await metric(t, 'audit_ingest_degraded')).toBe(0);
    expect(lines.some((l) => l.msg === 'ingest recovered: the log drains into the store')).toBe(true);

    // Back on the direct path.
    const after = batch(3, 'after');
    expect((await t.post(after)).status).toBe(202);
    await drained(t); // (a very slow machine could still miss the 2 s deadline)
    expect((await storedCounts(t, idsOf(after))).size).toBe(3);
  });

  it('stores retried ids once: twice into the spool, then again on the direct path after the drain', async () => {
    const faults = new FaultInjector();
    const t = await start({}, { faults });
    const events = batch(20, 'retry');
    faults.failStore();
    expect((await t.post(events)).status).toBe(202);
    expect((await t.post(events)).status).toBe(202); // a client retry after a timeout
    expect((await t.post(events.slice(5, 10))).status).toBe(202);
    faults.heal();
    await drained(t);
    expect((await t.post(events)).status).toBe(202);
    await drained(t);
    await expectStoredOnce(t, idsOf(events));
    expect(await t.count()).toBe(20);
  });

  it('keeps order: what was spooled before a restart is stored before what arrives after it', async () => {
    const faults = new FaultInjector().failStore();
    const database = `t_${crypto.randomBytes(6).toString('hex')}`;
    const first = await start({ CLICKHOUSE_DATABASE: database }, { faults });
    const early = [batch(2, 'early-a'), batch(2, 'early-b'), batch(2, 'early-c')];
    for (const b of early) expect((await first.post(b)).status).toBe(202);
    const t0 = Date.now();
    await stop(first); // store still down: the spool is kept, not drained
    expect(Date.now() - t0).toBeLessThan(5_000);

    // The store is back but slow, and the replay takes several inserts (2 rows each): a new
    // post must queue behind the whole backlog, not slip in between two replayed batches.
    const observed = new FaultInjector();
    observed.storeLatencyMs = 50;
    observed.writtenIds = [];
    const second = await start({ CLICKHOUSE_DATABASE: database, AUDIT_BATCH_MAX_ROWS: '2' }, { faults: observed });
    expect((await readyz(second)).body).toMatchObject({ status: 'degraded', reason: 'replaying-spool' });
    const late = batch(2, 'late');
    expect((await second.post(late)).status).toBe(202);
    await drained(second);
    const expected = [...early.flatMap(idsOf), ...idsOf(late)];
    const firstSeen = [...new Set(observed.writtenIds)];
    expect(firstSeen).toEqual(expected);
    await expectStoredOnce(second, expected);
  });

  it('answers 503 + Retry-After when the spool is full, loses nothing it accepted, and recovers by itself', async () => {
    const faults = new FaultInjector();
    const t = await start({ AUDIT_SPOOL_MAX_BYTES: String(24 * 1024) }, { faults });
    faults.failStore();
    const { accepted, refused } = await postBatches(t, 40, 'full', async (res) => {
      expect(res.status).toBe(503);
      expect(res.headers.get('Retry-After')).toMatch(/^\d+$/);
      expect(res.headers.get('Content-Type')).toContain('application/problem+json');
      expect((await problemOf(res)).type).toMatch(/spool-full$/);
    });
    expect(accepted.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(await metric(t, 'audit_spool_bytes')).toBeLessThanOrEqual(24 * 1024);
    expect((await readyz(t)).status).toBe(503);
    expect(await metric(t, 'audit_ingest_rejected_total', { reason: 'spool-full' })).toBe(refused.length);

    faults.heal();
    await drained(t);
    await expectStoredOnce(t, accepted);
    expect((await storedCounts(t, refused.flatMap(idsOf))).size).toBe(0); // refused means not stored
    for (const b of refused) await postUntilAccepted(t, b); // the client's retry
    await drained(t);
    await expectStoredOnce(t, [...accepted, ...refused.flatMap(idsOf)]);
  });

  it('a request larger than the whole spool is a 413 (retrying cannot help) and does not hold readiness down', async () => {
    const faults = new FaultInjector();
    const t = await start({ AUDIT_SPOOL_MAX_BYTES: String(8 * 1024) }, { faults });
    faults.failStore();
    const huge = batch(40, 'huge'); // well over 8 KiB once framed
    const res = await t.post(huge);
    expect(res.status).toBe(413);
    expect(res.headers.get('Content-Type')).toContain('application/problem+json');
    expect((await problemOf(res)).type).toMatch(/too-large-for-spool$/);
    const small = batch(1, 'small');
    expect((await t.post(small)).status).toBe(202); // the spool still takes what fits
    expect((await readyz(t)).status).toBe(200); // degraded, not "cannot accept writes"
    faults.heal();
    await drained(t);
    await expectStoredOnce(t, idsOf(small));
    expect((await storedCounts(t, idsOf(huge))).size).toBe(0);
  });

  it('a slow store (and a slow disk): latency grows, memory stays bounded (429 past it), nothing is lost', async () => {
    const faults = new FaultInjector();
    const deadlineMs = 150;
    const t = await start(
      { AUDIT_SPOOL_DEADLINE_MS: String(deadlineMs), AUDIT_INGEST_MAX_QUEUED_ROWS: '10000', AUDIT_BATCH_MAX_ROWS: '2000' },
      { faults },
    );
    // Healthy baseline.
    const warm = batch(500, 'warm');
    const t0 = performance.now();
    expect((await t.post(warm)).status).toBe(202);
    const fastMs = performance.now() - t0;

    // Every store write takes 400 ms (past the deadline), every fsync 300 ms: the writer can
    // acknowledge ~2,000 rows per 300 ms, and 20,000 are offered at once.
    faults.storeLatencyMs = 400;
    faults.diskLatencyMs = 300;
    let maxBacklog = 0;
    const sampler = setInterval(() => (maxBacklog = Math.max(maxBacklog, t.services.writer.backlog)), 1);
    const requests = Array.from({ length: 40 }, (_, i) => batch(500, `slow-${i}`));
    const outcomes = await Promise.all(requests.map(async (b) => {
      const s = performance.now();
      const res = await t.post(b);
      return { b, res, ms: performance.now() - s };
    }));
    clearInterval(sampler);

    const ok = outcomes.filter((o) => o.res.status === 202);
    const overloaded = outcomes.filter((o) => o.res.status === 429);
    expect(ok.length + overloaded.length).toBe(40);
    expect(ok.length).toBeGreaterThan(0);
    expect(overloaded.length).toBeGreaterThan(0);
    for (const o of overloaded) {
      expect(o.res.headers.get('Retry-After')).toBe('1');
      expect((await problemOf(o.res)).type).toMatch(/overloaded$/);
    }
    expect(maxBacklog).toBeLessThanOrEqual(10_000); // the bound on what waits in memory held
    // Latency grew from the healthy baseline to past the deadline (answers come from the slow spool).
    const slowest = Math.max(...ok.map((o) => o.ms));
    expect(slowest).toBeGreaterThan(Math.max(fastMs, deadlineMs));
    expect(await metric(t, 'audit_spool_appended_events_total')).toBeGreaterThan(0);

    // The clients retry what was refused, with the same ids; then the store recovers.
    faults.diskLatencyMs = 0;
    for (const o of overloaded) await postUntilAccepted(t, o.b);
    faults.storeLatencyMs = 0;
    await drained(t);
    const all = [...idsOf(warm), ...requests.flatMap(idsOf)];
    await expectStoredOnce(t, all);
    expect(await t.count()).toBe(all.length);
  });

  it('answers 429 (load), not 503, when the spool fills up while the store works but lags behind', async () => {
    const faults = new FaultInjector();
    const t = await start({ AUDIT_SPOOL_MAX_BYTES: String(16 * 1024), AUDIT_SPOOL_DEADLINE_MS: '20' }, { faults });
    faults.storeLatencyMs = 150; // slower than the deadline, but every write succeeds
    const { accepted, refused } = await postBatches(t, 30, 'lag', (res) => {
      expect(res.status).toBe(429);
      expect(res.headers.get('Retry-After')).toBe('1');
    });
    expect(refused.length).toBeGreaterThan(0);
    faults.heal();
    await drained(t);
    // Retries may be spooled again (20 ms is tight for a real insert) and even meet a full spool
    // again while the drainer catches up: the client backs off and retries, nothing is lost.
    for (const b of refused) await postUntilAccepted(t, b);
    await drained(t);
    await expectStoredOnce(t, [...accepted, ...refused.flatMap(idsOf)]);
  });

  it('answers 503 spool-unavailable when the store is down and the disk fails; recovers when they do', async () => {
    const faults = new FaultInjector().failStore().failDisk();
    const t = await start({}, { faults });
    const lost = batch(3, 'disk');
    const res = await t.post(lost);
    expect(res.status).toBe(503);
    expect(res.headers.get('Retry-After')).toBe('5');
    expect((await problemOf(res)).type).toMatch(/spool-unavailable$/);
    expect((await readyz(t)).status).toBe(503);

    faults.heal().failStore(); // the disk is back, the store not yet
    expect((await t.post(lost)).status).toBe(202);
    // The drainer finds the store down on its next insert, a few ms after the acknowledgement.
    expect(await waitFor(async () => (await readyz(t)).body.status === 'degraded', 'readiness to say degraded')).toBe(true);
    faults.heal();
    await drained(t);
    await expectStoredOnce(t, idsOf(lost));
  });

  it('skips and counts a torn record a crash left in the spool, and stores the rest at start', async () => {
    const database = `t_${crypto.randomBytes(6).toString('hex')}`;
    const dir = path.join(testDataDir(), 'spool', database);
    const rows = (n: number, tag: string): EventRow[] => Array.from({ length: n }, (_, i) => {
      const now = Date.now();
      return {
        id: uuid(), tenant_id: 'acme', timestamp: now, received_at: now, activity_type: 'user.login', severity: 'LOW',
        action: 'login', outcome: 'success', resource_type: '', user_agent: 'ua', user_id: 'alice', resource_id: '',
        ip_address: '', request_id: '', description: `${tag} ${i}`, details: '{}',
      };
    });
    const good1 = rows(3, 'good1');
    const good2 = rows(2, 'good2');
    const spool = await Spool.open({ dir, maxBytes: 1 << 20 });
    await spool.append([good1, rows(4, 'torn')]);
    await spool.append([good2]);
    await spool.close();
    // Corrupt the middle record the way a bad sector or a crash would: its bytes are not what was written.
    const fs = await import('node:fs');
    const file = path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.seg'))!);
    const buf = fs.readFileSync(file);
    const second = 16 + buf.readUInt32LE(4);
    buf.fill(0, second + 30, second + 60);
    fs.writeFileSync(file, buf);

    const t = await start({ CLICKHOUSE_DATABASE: database });
    await drained(t);
    expect(await metric(t, 'audit_spool_corrupt_records_total')).toBe(1);
    await expectStoredOnce(t, idsOf([...good1, ...good2] as unknown as Array<Record<string, unknown>>));
    expect(await t.count()).toBe(5);
  });

  it('moves a spooled record ClickHouse refuses for good to quarantine (not dropped) and stores the others', async () => {
    const database = `t_${crypto.randomBytes(6).toString('hex')}`;
    const dir = path.join(testDataDir(), 'spool', database);
    const row = (tag: string, severity = 'LOW'): EventRow => ({
      id: uuid(), tenant_id: 'acme', timestamp: Date.now(), received_at: Date.now(), activity_type: 'user.login', severity,
      action: 'login', outcome: 'success', resource_type: '', user_agent: 'ua', user_id: 'alice', resource_id: '',
      ip_address: '', request_id: '', description: tag, details: '{}',
    });
    const before = [row('before-1'), row('before-2')];
    const poison = [row('poison', 'NOT_A_SEVERITY')]; // e.g. written by a version with another enum
    const after = [row('after-1')];
    const spool = await Spool.open({ dir, maxBytes: 1 << 20 });
    await spool.append([before, poison, after]);
    await spool.close();

    const t = await start({ CLICKHOUSE_DATABASE: database });
    await drained(t);
    await expectStoredOnce(t, [...before, ...after].map((r) => r.id));
    expect((await storedCounts(t, [poison[0]!.id])).size).toBe(0);
    expect(await metric(t, 'audit_spool_quarantined_events_total')).toBe(1);
    const fs = await import('node:fs');
    const quarantined = fs.readdirSync(path.join(dir, 'quarantine'));
    expect(quarantined).toHaveLength(1);
    expect(fs.readFileSync(path.join(dir, 'quarantine', quarantined[0]!), 'utf8')).toContain(poison[0]!.id);
  });

  it('quarantines nothing when the store refuses every record (the store is the problem, not the records)', async () => {
    const database = `t_${crypto.randomBytes(6).toString('hex')}`;
    const dir = path.join(testDataDir(), 'spool', database);
    const row = (): EventRow => ({
      id: uuid(), tenant_id: 'acme', timestamp: Date.now(), received_at: Date.now(), activity_type: 'user.login',
      severity: 'NOT_A_SEVERITY', action: 'login', outcome: 'success', resource_type: '', user_agent: 'ua', user_id: 'alice',
      resource_id: '', ip_address: '', request_id: '', description: 'refused', details: '{}',
    });
    const spool = await Spool.open({ dir, maxBytes: 1 << 20 });
    await spool.append([[row()], [row()], [row()]]);
    await spool.close();
    const { log, lines } = captureLog();
    const t = await start({ CLICKHOUSE_DATABASE: database }, { log });
    // Each insert attempt the store refuses is logged: the batch, then each record alone, again.
    const attempts = () => lines.filter((l) => l.msg === 'insert failed: continuing the hash chains in a new stream').length;
    await waitFor(() => attempts() >= 8, 'repeated refusals');
    expect(await metric(t, 'audit_spool_quarantined_events_total')).toBe(0);
    expect((await readyz(t)).body).toMatchObject({ status: 'degraded', spool: { events: 3 } });
    // Shut down without waiting out the drain deadline: the three records stay in the log.
    services.splice(services.indexOf(t), 1);
    await t.services.shutdown({ drainDeadline: Date.now() });
    const reopened = await Spool.open({ dir, maxBytes: 1 << 20 });
    expect(reopened.pendingEvents).toBe(3);
    await reopened.close();
  });

  it('shutdown with a reachable store drains the spool before it returns', async () => {
    const faults = new FaultInjector();
    const database = `t_${crypto.randomBytes(6).toString('hex')}`;
    const t = await start({ CLICKHOUSE_DATABASE: database, AUDIT_SPOOL_DEADLINE_MS: '20' }, { faults });
    faults.storeLatencyMs = 100; // every direct write misses the deadline: all of it is spooled
    const events = batch(50, 'shutdown');
    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => t.post(events.slice(i * 5, i * 5 + 5))));
    expect(responses.every((r) => r.status === 202)).toBe(true);
    expect(t.services.writer.status().spool!.events).toBeGreaterThan(0);
    await stop(t);
    // Closed: refuses writes with a Retry-After, and readiness says so.
    const refused = await t.post(batch(1, 'late'));
    expect(refused.status).toBe(503);
    expect(refused.headers.get('Retry-After')).toBe('1');
    expect((await problemOf(refused)).type).toMatch(/shutting-down$/);
    expect((await readyz(t)).status).toBe(503);
    const again = await start({ CLICKHOUSE_DATABASE: database });
    expect(again.services.writer.status().spool!.events).toBe(0);
    await expectStoredOnce(again, idsOf(events));
  });
});
