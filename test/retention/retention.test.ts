// Retention with archiving on, against the real engine and real files: the job is the only
// deleter, a row goes exactly at the first run after its retention ends (invariant 3), a dry run
// changes nothing, and a second run at the same clock does nothing (invariant 2, first half).
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { listArchives } from '../../src/archive/catalog.ts';
import { tableHasTtl } from '../../src/store/expiry.ts';
import {
  DAY,
  expectAccountedFor,
  useRetentionServices,
  DAYS,
  SEVERITIES,
  archivedKeyCounts,
  eventAt,
  liveKeys,
} from '../support/retention.ts';

const service = useRetentionServices();

describe('retention with archiving on', () => {
  it('leaves audit_activities without a delete TTL, so the job is the only deleter', async () => {
    const t = await service();
    expect(await tableHasTtl(t.services.store)).toBe(false);
    // An event far older than any retention is stored and stays until a run archives it.
    const [old] = await t.postEvents([eventAt(Date.now() - 3000 * DAY, 'LOW')]);
    await new Promise((r) => setTimeout(r, 300));
    expect((await liveKeys(t)).has(old!.key)).toBe(true);
  });

  it('invariant 3: a row stays through the run at the exact end of its retention and is gone after the next one', async () => {
    const t = await service();
    const T = Date.now() - 400 * DAY;
    const rows = await t.postEvents(SEVERITIES.map((s) => eventAt(T, s, { tenant_id: `edge-${s.toLowerCase()}` })));
    for (const row of rows) {
      const end = T + DAYS[row.severity]! * DAY;
      await t.services.retention.run({ now: end });
      expect((await liveKeys(t)).has(row.key), `${row.severity} row at the end of its retention`).toBe(true);
      await t.services.retention.run({ now: end + 1 });
      expect((await liveKeys(t)).has(row.key), `${row.severity} row 1 ms after its retention`).toBe(false);
      expect((await archivedKeyCounts(t.archiveDir)).get(row.key)).toBe(1);
    }
    await expectAccountedFor(t);
  });

  it('a dry run reports per partition and severity and changes nothing', async () => {
    const t = await service();
    const now = Date.now();
    await t.postEvents([
      eventAt(now - 45 * DAY, 'LOW'), eventAt(now - 46 * DAY, 'LOW'), eventAt(now - 100 * DAY, 'HIGH'),
      eventAt(now - 10 * DAY, 'LOW'), eventAt(now - 100 * DAY, 'CRITICAL'),
    ]);
    const before = await t.count();
    const report = await t.services.retention.run({ dryRun: true, now });
    expect(report.dry_run).toBe(true);
    expect(report.totals).toEqual({ archives: 0, archived_rows: 3, deleted_rows: 3 });
    const bySeverity = Object.fromEntries(report.partitions.map((p) => [p.severity, p]));
    expect(bySeverity.LOW).toMatchObject({ expired_rows: 2, archived_rows: 2, deleted_rows: 2 });
    expect(bySeverity.HIGH).toMatchObject({ expired_rows: 1, archived_rows: 1, deleted_rows: 1 });
    expect(bySeverity.CRITICAL).toBeUndefined();
    for (const p of report.partitions) expect(p.partition).toMatch(/^\d{6}$/);
    expect(await t.count()).toBe(before);
    expect(fs.readdirSync(t.archiveDir)).toEqual([]);
    expect(await listArchives(t.services.store, { limit: 10 })).toEqual([]);

    const real = await t.services.retention.run({ now });
    expect(real.totals).toMatchObject({ archived_rows: 3, deleted_rows: 3 });
    expect(await t.count()).toBe(before - 3);
  });

  it('running twice at the same clock archives and deletes nothing the second time', async () => {
    const t = await service();
    const now = Date.now();
    await t.postEvents(SEVERITIES.flatMap((s) => [eventAt(now - 200 * DAY, s), eventAt(now - 1 * DAY, s)]));
    const first = await t.services.retention.run({ now });
    expect(first.totals.archives).toBe(4);
    const files = fs.readdirSync(t.archiveDir, { recursive: true }).sort();
    const second = await t.services.retention.run({ now });
    expect(second.totals).toEqual({ archives: 0, archived_rows: 0, deleted_rows: 0 });
    expect(fs.readdirSync(t.archiveDir, { recursive: true }).sort()).toEqual(files);
    await expectAccountedFor(t);
  });
});
