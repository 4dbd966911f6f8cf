// Leader election through ClickHouse alone: one winner per (lease, slot) among concurrent
// "replicas" (separate store connections with their own holder ids on one engine).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLease } from '../../src/cluster/lease.ts';
import { Store } from '../../src/store/client.ts';
import { createTestService, testDataDir, type TestService } from '../support/service.ts';

let t: TestService;
const replicas: Store[] = [];
beforeAll(async () => {
  t = await createTestService();
  for (let i = 0; i < 4; i++) replicas.push(await Store.open({ dataDir: testDataDir(), database: t.database }));
});
afterAll(async () => {
  for (const r of replicas) await r.close();
  await t.close();
});

describe('acquireLease', () => {
  it('lets exactly one of many concurrent contenders win a slot, and everyone agrees who', async () => {
    for (let slot = 0; slot < 10; slot++) {
      const results = await Promise.all(
        replicas.flatMap((store, r) => [0, 1].map((k) => acquireLease(store, 'retention', `2026-11-29T02:00:00Z#${slot}`, `replica-${r}-${k}`))),
      );
      expect(results.filter((x) => x.acquired)).toHaveLength(1);
      expect(new Set(results.map((x) => x.holder)).size).toBe(1);
    }
    // Deduplication, not just "earliest row wins": each slot holds exactly one row.
    const rows = await t.services.store.query<{ slot: string; n: string }>(
      `SELECT slot, count() AS n FROM ${t.services.store.table('audit_leases')} WHERE name = 'retention' GROUP BY slot`,
    );
    expect(rows).toHaveLength(10);
    for (const r of rows) expect(Number(r.n)).toBe(1);
  });

  it('is idempotent for the winner and independent per slot and per name', async () => {
    const a = await acquireLease(replicas[0]!, 'retention', 'slot-x', 'A');
    const b = await acquireLease(replicas[1]!, 'retention', 'slot-x', 'B');
    expect(a.acquired).toBe(true);
    expect(b).toEqual({ acquired: false, holder: 'A' });
    expect((await acquireLease(replicas[0]!, 'retention', 'slot-x', 'A')).acquired).toBe(true);
    expect((await acquireLease(replicas[1]!, 'retention', 'slot-y', 'B')).acquired).toBe(true);
    expect((await acquireLease(replicas[1]!, 'checkpoint', 'slot-x', 'B')).acquired).toBe(true);
  });
});
