// Archiving off: ClickHouse's per-severity TTL deletes, the job writes no archive and only makes
// the TTL act now where expired rows remain; a dry run deletes nothing. Switching archiving on
// again removes the TTL, so the job is once more the only deleter.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { listArchives } from '../../src/archive/catalog.ts';
import { tableHasTtl } from '../../src/store/expiry.ts';
import { DAY, createRetentionService, eventAt, liveKeys, type RetentionTestService } from '../support/retention.ts';

const open: RetentionTestService[] = [];
afterAll(async () => {
  for (const t of open) {
    await t.close();
    fs.rmSync(t.archiveDir, { recursive: true, force: true });
  }
});

describe('retention with archiving off', () => {
  it('leaves deletion to the TTL, archives nothing, and a dry run deletes nothing', async () => {
    // Rows written while archiving was on sit in parts that carry no TTL yet.
    const on = await createRetentionService();
    open.push(on);
    const now = Date.now();
    const [oldLow, freshLow, oldHigh] = await on.postEvents([eventAt(now - 100 * DAY, 'LOW'), eventAt(now - 5 * DAY, 'LOW'), eventAt(now - 100 * DAY, 'HIGH')]);

    const off = await createRetentionService({ CLICKHOUSE_DATABASE: on.database, AUDIT_ARCHIVE_ENABLED: 'false', AUDIT_SPOOL_MAX_BYTES: '0' });
    open.push(off);
    const store = off.services.store;
    const table = store.table('audit_activities');
    expect(await tableHasTtl(store)).toBe(true);
    const ddl = (await store.query<{ q: string }>(`SELECT create_table_query AS q FROM system.tables WHERE database = {db:String} AND name = 'audit_activities'`, { db: on.database }))[0]!.q;
    expect(ddl).toContain("toDateTime(timestamp) + toIntervalDay(30) WHERE severity = 'LOW'");

    // Keep background TTL merges out of the way so the dry run alone is observed.
    await store.command(`SYSTEM STOP TTL MERGES ${table}`);
    const before = await liveKeys(off);
    expect(before.has(oldLow!.key) && before.has(oldHigh!.key)).toBe(true);
    const dry = await off.services.retention.run({ dryRun: true });
    expect(dry.archive_enabled).toBe(false);
    expect(dry.totals).toEqual({ archives: 0, archived_rows: 0, deleted_rows: 2 });
    expect(await liveKeys(off)).toEqual(before);
    await store.command(`SYSTEM START TTL MERGES ${table}`);

    const run = await off.services.retention.run();
    expect(run.totals.archives).toBe(0);
    expect(run.totals.deleted_rows).toBe(2);
    const after = await liveKeys(off);
    expect(after.has(oldLow!.key) || after.has(oldHigh!.key)).toBe(false);
    expect(after.has(freshLow!.key)).toBe(true);
    expect(fs.existsSync(off.archiveDir) ? fs.readdirSync(off.archiveDir) : []).toEqual([]);
    expect(await listArchives(store, { limit: 10 })).toEqual([]);
    const deleted = await off.services.metrics.retentionDeleted.get();
    expect(deleted.values.find((v) => v.labels.severity === 'LOW')!.value).toBe(1);

    // An event posted now with an old timestamp is dropped by the TTL itself, no job involved.
    const [late] = await off.postEvents([eventAt(now - 365 * DAY, 'MEDIUM')]);
    const deadline = Date.now() + 15_000;
    while ((await liveKeys(off)).has(late!.key) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect((await liveKeys(off)).has(late!.key)).toBe(false);

    // Archiving on again: the TTL is removed at start, the job is the only deleter.
    const again = await createRetentionService({ CLICKHOUSE_DATABASE: on.database, AUDIT_SPOOL_MAX_BYTES: '0' });
    open.push(again);
    expect(await tableHasTtl(again.services.store)).toBe(false);
  });
});
