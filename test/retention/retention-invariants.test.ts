// Invariants 1 and 3 over a run of simulated time (the job's clock is injected): with archiving
// on, no row leaves audit_activities unless it is in a verified archive (far-past timestamps,
// rows expiring between runs, rows arriving mid-run included), and after every run no row
// whose retention has ended is left.
import { describe, expect, it } from 'vitest';
import { listArchives } from '../../src/archive/catalog.ts';
import {
  DAY,
  expectAccountedFor,
  useRetentionServices,
  SEVERITIES,
  archivedKeyCounts,
  eventAt,
  liveExpired,
  liveKeys,
  type Accepted,
} from '../support/retention.ts';

const service = useRetentionServices();

describe('retention invariants over simulated time', () => {
  it('invariants 1 and 3: across 7 runs 20 days apart, every vanished row is in a verified archive, none expired stays, late rows arriving mid-run are not deleted', async () => {
    const t = await service();
    const start = Date.now() - 320 * DAY;
    // Each run costs one ClickHouse mutation (a few seconds here), so runs are few and far apart;
    // the traffic between two runs covers every day of the gap.
    let midRun: Accepted | undefined;
    for (let k = 0; k < 7; k++) {
      const now = start + k * 20 * DAY;
      const traffic: Array<Record<string, unknown>> = [];
      for (let i = 0; i < 24; i++) {
        traffic.push(eventAt(now - Math.floor((i * 20 * DAY) / 24) - 1, SEVERITIES[i % 4]!, { tenant_id: i % 3 === 0 ? 'globex' : 'acme' }));
      }
      // Late deliveries and imports: far older than any retention, or just past one.
      traffic.push(eventAt(start - 400 * DAY + k * DAY, 'CRITICAL'), eventAt(now - 95 * DAY, 'LOW'), eventAt(now - 61 * DAY, 'MEDIUM'));
      await t.postEvents(traffic);

      // Rows whose retention ended since the last run are all still here: nothing deletes between runs.
      const live = await liveKeys(t);
      const archived = await archivedKeyCounts(t.archiveDir);
      expect([...t.ledger.keys()].filter((key) => !live.has(key) && !archived.has(key))).toEqual([]);
      if (midRun) expect(live.has(midRun.key)).toBe(true);

      let injected: Accepted | undefined;
      const report = await t.services.retention.run({
        now,
        onStep: async (step, detail) => {
          if (step !== "committed" || injected) return;
          // An event lands while the run is between "archive committed" and "delete": same
          // partition, same severity, already expired. It is not in the file, so it must survive.
          const [rec] = await listArchives(t.services.store, { afterSeq: Number(detail!.seq) - 1, limit: 1 });
          [injected] = await t.postEvents([eventAt(Date.parse(rec!.first_timestamp), rec!.severity, { description: 'arrived mid-run' })]);
        },
      });
      expect(report.totals.deleted_rows).toBe(report.totals.archived_rows);

      const after = await expectAccountedFor(t);
      expect(await liveExpired(t, now), 'expired rows still live after a run').toBe(
        injected ? 1 : 0, // the mid-run arrival waits for the next run
      );
      if (injected) {
        expect(after.live.has(injected.key)).toBe(true);
        expect(after.archived.has(injected.key)).toBe(false);
      }
      // The previous run's mid-run arrival was archived and deleted by this run.
      if (midRun) {
        expect(after.live.has(midRun.key)).toBe(false);
        expect(after.archived.get(midRun.key)).toBe(1);
      }
      midRun = injected;
      const keysLeft = await t.services.store.query<{ n: string }>(`SELECT count() AS n FROM ${t.services.store.table('audit_archive_keys')}`);
      expect(Number(keysLeft[0]!.n)).toBe(0);
    }
    expect((await listArchives(t.services.store, { limit: 1000 })).every((a) => a.state === 'deleted' && a.deleted_rows === a.row_count)).toBe(true);
    expect(t.ledger.size).toBeGreaterThan(180);
  });

});
