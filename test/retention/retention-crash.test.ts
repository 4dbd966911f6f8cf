// Invariant 2: every expired row ends up in exactly one archive, even when a run is stopped at
// any point (we throw from the job's step hook, which leaves disk and database exactly as a
// crash there would: nothing is cleaned up on the way out) and the job runs again. Also: a run
// refuses to delete when the archive directory and the catalog disagree, and runs never overlap.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listArchives } from '../../src/archive/catalog.ts';
import { scanLayout } from '../../src/archive/chain.ts';
import { LOCK_FILE } from '../../src/archive/format.ts';
import { ArchiveIntegrityError, RetentionBusyError } from '../../src/retention/job.ts';
import {
  DAY,
  DAYS,
  SEVERITIES,
  archivedKeyCounts,
  createRetentionService,
  eventAt,
  expectVerified,
  liveKeys,
  type RetentionTestService,
} from '../support/retention.ts';

class Crash extends Error {
  override name = 'Crash';
}

const open: RetentionTestService[] = [];
async function service() {
  const t = await createRetentionService();
  open.push(t);
  return t;
}
afterEach(async () => {
  for (const t of open.splice(0)) {
    await t.close();
    fs.rmSync(t.archiveDir, { recursive: true, force: true });
  }
});

/** Two expired rows per severity in two months, one fresh row each. */
async function seed(t: RetentionTestService, now: number) {
  await t.postEvents(SEVERITIES.flatMap((s) => [eventAt(now - 300 * DAY, s), eventAt(now - 250 * DAY, s), eventAt(now - 250 * DAY + 1, s), eventAt(now - DAY, s)]));
}

/** Invariant 1 in any state: a row that left the table is in an archive file. */
async function expectNothingLost(t: RetentionTestService) {
  const live = await liveKeys(t);
  const archived = await archivedKeyCounts(t.archiveDir);
  expect([...t.ledger.keys()].filter((k) => !live.has(k) && !archived.has(k))).toEqual([]);
}

/** Invariant 2 after a clean run: expired rows in exactly one archive, the rest live, all verified. */
async function expectExactlyOnce(t: RetentionTestService, now: number) {
  await expectVerified(t.archiveDir);
  const live = await liveKeys(t);
  const archived = await archivedKeyCounts(t.archiveDir);
  for (const [key, row] of t.ledger) {
    const expired = row.timestamp < now - DAYS[row.severity]! * DAY;
    expect({ key, archived: archived.get(key) ?? 0, live: live.has(key) }).toEqual({ key, archived: expired ? 1 : 0, live: !expired });
  }
  expect([...archived.keys()].filter((k) => !t.ledger.has(k))).toEqual([]);
  const layout = scanLayout(t.archiveDir);
  expect(layout.temps).toEqual([]);
  const catalog = await listArchives(t.services.store, { limit: 1000 });
  expect(catalog.map((a) => a.seq)).toEqual([...layout.manifests.keys()].sort((a, b) => a - b));
  expect(catalog.every((a) => a.state === 'deleted')).toBe(true);
}

// [step, which occurrence to stop at, what the next run must report having repaired]
const STOPS: Array<[string, number, Partial<Record<string, number>>]> = [
  ['export-chunk', 2, { discarded_temp_files: 1 }], // mid-export of the second archive
  ['data-written', 2, { discarded_temp_files: 1 }],
  ['data-verified', 2, { discarded_temp_files: 1 }],
  ['files-renamed', 2, { adopted_archives: 1 }], // complete on disk, HEAD not yet moved
  ['head-written', 2, { adopted_archives: 1 }], // complete on disk, not in the catalog
  ['committed', 2, { resumed_deletions: 2 }], // in the catalog, rows not deleted
  ['deleted', 1, { resumed_deletions: 8 }], // rows deleted, archives not marked
  ['marked-deleted', 1, {}],
];

describe('invariant 2: stopped anywhere and run again, no duplicates and no gaps', () => {
  for (const [step, occurrence, repaired] of STOPS) {
    it(`a run stopped at "${step}" (#${occurrence}) is completed by the next one`, async () => {
      const t = await service();
      const now = Date.now();
      await seed(t, now);
      let seen = 0;
      await expect(
        t.services.retention.run({
          now,
          onStep: (s) => {
            if (s === step && ++seen === occurrence) throw new Crash(step);
          },
        }),
      ).rejects.toThrow(Crash);
      await expectNothingLost(t);

      const again = await t.services.retention.run({ now });
      for (const [k, n] of Object.entries(repaired)) expect(again.recovered[k as keyof typeof again.recovered], k).toBe(n);
      await expectExactlyOnce(t, now);
      // And a third run has nothing left to do.
      const third = await t.services.retention.run({ now });
      expect(third.totals).toEqual({ archives: 0, archived_rows: 0, deleted_rows: 0 });
      expect(Object.values(third.recovered).every((n) => n === 0)).toBe(true);
    });
  }

  it('two stops in a row (mid-export, then between commit and delete) still end in exactly one archive per row', async () => {
    const t = await service();
    const now = Date.now();
    await seed(t, now);
    const stopAt = (step: string) => (s: string) => {
      if (s === step) throw new Crash(step);
    };
    await expect(t.services.retention.run({ now, onStep: stopAt('data-written') })).rejects.toThrow(Crash);
    await t.postEvents([eventAt(now - 400 * DAY, 'HIGH')]); // arrives between the two attempts
    await expect(t.services.retention.run({ now, onStep: stopAt('committed') })).rejects.toThrow(Crash);
    await expectNothingLost(t);
    await t.services.retention.run({ now });
    await expectExactlyOnce(t, now);
  });

  it('quarantines an uncommitted archive that no longer verifies and archives its rows again', async () => {
    const t = await service();
    const now = Date.now();
    await seed(t, now);
    await expect(t.services.retention.run({ now, onStep: (s) => { if (s === 'head-written') throw new Crash(s); } })).rejects.toThrow(Crash);
    const [, data] = [...scanLayout(t.archiveDir).data.entries()][0]!;
    const file = path.join(t.archiveDir, data);
    const bytes = fs.readFileSync(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    fs.writeFileSync(file, bytes);
    const again = await t.services.retention.run({ now });
    expect(again.recovered.quarantined_archives).toBe(1);
    expect(fs.existsSync(path.join(t.archiveDir, 'quarantine'))).toBe(true);
    await expectExactlyOnce(t, now);
  });
});

describe('the job refuses to delete when archives and catalog disagree', () => {
  it('a committed archive missing from disk stops the run before anything is deleted', async () => {
    const t = await service();
    const now = Date.now();
    await seed(t, now);
    await t.services.retention.run({ now });
    const [last] = (await listArchives(t.services.store, { limit: 1000 })).slice(-1);
    fs.rmSync(path.join(t.archiveDir, last!.manifest));
    await t.postEvents([eventAt(now - 400 * DAY, 'LOW')]);
    const before = await t.count();
    const errorsBefore = (await t.services.metrics.retentionErrors.get()).values[0]?.value ?? 0;
    await expect(t.services.retention.run({ now })).rejects.toThrow(ArchiveIntegrityError);
    expect(await t.count()).toBe(before);
    expect((await t.services.metrics.retentionErrors.get()).values[0]!.value).toBe(errorsBefore + 1);
  });

  it('a committed archive changed before its rows were deleted keeps its rows in the table', async () => {
    const t = await service();
    const now = Date.now();
    await seed(t, now);
    await expect(t.services.retention.run({ now, onStep: (s) => { if (s === 'committed') throw new Crash(s); } })).rejects.toThrow(Crash);
    const [pending] = await listArchives(t.services.store, { limit: 1 });
    const file = path.join(t.archiveDir, pending!.file);
    fs.appendFileSync(file, Buffer.from([0x1f, 0x8b, 0x00]));
    const before = await t.count();
    await expect(t.services.retention.run({ now })).rejects.toThrow(ArchiveIntegrityError);
    expect(await t.count()).toBe(before);
  });
});

describe('runs never overlap', () => {
  it('refuses a second run while one is in progress, in-process and across processes', async () => {
    const t = await service();
    const now = Date.now();
    await seed(t, now);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let parked!: () => void;
    const atGate = new Promise<void>((r) => (parked = r));
    const first = t.services.retention.run({ now, onStep: async (s) => { if (s === 'committed') { parked(); await gate; } } });
    await atGate; // the first run holds the lock, parked at its commit (not: 200 ms are enough to get there)
    await expect(t.services.retention.run({ now })).rejects.toThrow(RetentionBusyError);
    const res = await t.app.request('/api/v1/audit/retention/run', { method: 'POST', headers: { Authorization: `Bearer ${t.adminToken}` } });
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    release();
    await first;

    // A lock held by another live process on this host is honoured...
    fs.writeFileSync(path.join(t.archiveDir, LOCK_FILE), JSON.stringify({ pid: process.ppid, host: os.hostname(), started_at: new Date().toISOString() }));
    await expect(t.services.retention.run({ now })).rejects.toThrow(/holds/);
    // ...one left by a process that is gone is taken over.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    fs.writeFileSync(path.join(t.archiveDir, LOCK_FILE), JSON.stringify({ pid: dead, host: os.hostname(), started_at: new Date().toISOString() }));
    await t.services.retention.run({ now });
    expect(fs.existsSync(path.join(t.archiveDir, LOCK_FILE))).toBe(false);
  });
});
