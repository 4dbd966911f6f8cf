// Invariant 4: restore(archives) ∪ rows still live = every event ever accepted. A simulated
// year of mixed-severity traffic for three tenants, with late deliveries and repeated ids, goes
// through the real API; the job runs on an injected clock every quarter; at the end all
// archives are restored and compared, row by row, with what was accepted.
import fs from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadPublicKeys } from '../../src/archive/keys.ts';
import { restoreArchives } from '../../src/archive/restore.ts';
import { DAY, DAYS, createRetentionService, eventAt, expectVerified, liveExpired, liveKeys, type RetentionTestService } from '../support/retention.ts';

let t: RetentionTestService;
beforeAll(async () => {
  t = await createRetentionService();
});
afterAll(async () => {
  await t.close();
  fs.rmSync(t.archiveDir, { recursive: true, force: true });
});

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

it('restore(archives) ∪ live rows = every event accepted over a simulated year', async () => {
  const random = rng(20260101);
  const severity = () => {
    const r = random();
    return r < 0.5 ? 'LOW' : r < 0.75 ? 'MEDIUM' : r < 0.9 ? 'HIGH' : 'CRITICAL';
  };
  const tenants = ['acme', 'globex', 'initech'];
  const start = Date.now() - 420 * DAY;
  // Each run costs one ClickHouse mutation, a few seconds on the embedded engine (its cost grows
  // with the table's part count), so four runs, a quarter apart, cover the year.
  const RUN_EVERY = 92;
  let runs = 0;
  let pending: Array<Record<string, unknown>> = [];
  for (let day = 1; day <= 366; day++) {
    const today = start + day * DAY;
    const n = Math.floor(random() * 6);
    for (let i = 0; i < n; i++) {
      const late = random() < 0.06; // a late delivery or an import: up to 200 days old
      const ts = late ? today - Math.floor(random() * 200 * DAY) : today - Math.floor(random() * DAY);
      pending.push(eventAt(ts, severity(), { tenant_id: tenants[Math.floor(random() * 3)], id: crypto.randomUUID(), description: `day ${day} #${i}` }));
    }
    // A client retries an event it already sent (same id): stored once.
    if (pending.length > 0 && random() < 0.1) pending.push({ ...pending[Math.floor(random() * pending.length)]! });
    if (day % RUN_EVERY === 0 || day === 366) {
      await t.postEvents(pending);
      pending = [];
      await t.services.retention.run({ now: today });
      runs++;
      expect(await liveExpired(t, today)).toBe(0);
    }
  }
  expect(runs).toBe(4);
  await expectVerified(t.archiveDir);

  const report = await restoreArchives(t.services.store, t.archiveDir, { publicKeys: await loadPublicKeys([`${t.archiveDir}/keys`]) });
  expect(report.failed).toEqual([]);
  const store = t.services.store;
  const restored = await store.query<{ k: string; ts: string; sev: string }>(
    `SELECT concat(tenant_id, '|', toString(id)) AS k, toUnixTimestamp64Milli(timestamp) AS ts, toString(severity) AS sev
     FROM ${store.table('audit_restored')}`,
  );
  const live = await liveKeys(t);
  const restoredKeys = new Set(restored.map((r) => r.k));
  expect(restoredKeys.size, 'no event restored twice').toBe(restored.length);
  expect([...restoredKeys].filter((k) => live.has(k)), 'no event both live and archived').toEqual([]);
  const union = new Set([...restoredKeys, ...live]);
  expect([...t.ledger.keys()].filter((k) => !union.has(k)), 'accepted but neither live nor archived').toEqual([]);
  expect([...union].filter((k) => !t.ledger.has(k)), 'present but never accepted').toEqual([]);
  for (const r of restored) {
    const accepted = t.ledger.get(r.k)!;
    expect({ ts: Number(r.ts), sev: r.sev }).toEqual({ ts: accepted.timestamp, sev: accepted.severity });
  }
  // Every severity expired and was archived at some point in the year.
  expect(new Set(restored.map((r) => r.sev))).toEqual(new Set(Object.keys(DAYS)));
  expect(t.ledger.size).toBeGreaterThan(800);
  expect(restored.length).toBeGreaterThan(400);
});
