// kill -9 of the real service process under concurrent load, at several points: on the direct
// path, while the spool is taking writes and draining, and while a restarted service replays
// the spool. After the last restart every acknowledged id is stored exactly once, and the
// clients' retries (same ids) of whatever was in flight leave no duplicates either.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store } from '../../src/store/client.ts';
import { ServiceProcess, useServiceProcesses, retryUntilAcked, startLoad, writeToken, type LoadResult } from '../support/service-process.ts';

const CLIENTS = 24;
const { start, tempDir } = useServiceProcesses();

describe('crash recovery (kill -9)', () => {
  it('stores every acknowledged event exactly once after kill -9 at several points under load', { timeout: 90_000 }, async () => {
    const dataDir = tempDir('audithouse-crash-');
    const token = await writeToken();
    const rounds: LoadResult[] = [];

    // Kill point 1: the direct path (store healthy), mid-load.
    let svc = await start(dataDir);
    let load = startLoad(svc.url, token, { clients: CLIENTS, batchSize: 20, tag: 'direct' });
    await load.ackedAtLeast(1_000);
    await svc.kill9();
    rounds.push(await load.stop());

    // Kill point 2: the spool path. A 1 ms deadline sends most batches through the spool while
    // the drainer replays it; kill once the spool holds a backlog.
    svc = await start(dataDir, { AUDIT_SPOOL_DEADLINE_MS: '1', AUDIT_BATCH_MAX_ROWS: '200' });
    load = startLoad(svc.url, token, { clients: CLIENTS, batchSize: 20, tag: 'spool' });
    await load.ackedAtLeast(1_000);
    const backlogDeadline = Date.now() + 15_000;
    while ((await svc.readyz()).body.spool?.events === 0 && Date.now() < backlogDeadline) await new Promise((r) => setTimeout(r, 2));
    const spooledBeforeKill = await svc.metric('audit_spool_appended_events_total');
    await svc.kill9();
    rounds.push(await load.stop());
    expect(spooledBeforeKill).toBeGreaterThan(0);

    // Kill point 3: during the replay at start-up, with new writes queuing behind it.
    svc = await start(dataDir, { AUDIT_SPOOL_DEADLINE_MS: '1', AUDIT_BATCH_MAX_ROWS: '100' });
    const replaying = (await svc.readyz()).body;
    load = startLoad(svc.url, token, { clients: CLIENTS, batchSize: 20, tag: 'replay' });
    await load.ackedAtLeast(200);
    await svc.kill9();
    rounds.push(await load.stop());

    // Last start with defaults: the spool drains; then the clients retry what they never saw acknowledged.
    svc = await start(dataDir);
    await svc.waitReady();
    const corrupt = await svc.metric('audit_spool_corrupt_records_total');
    const unsettled = rounds.flatMap((r) => r.unsettled);
    await retryUntilAcked(svc.url, token, unsettled);
    await svc.waitReady();
    const exit = await svc.terminate();
    expect(exit.code).toBe(0);

    const acked = rounds.flatMap((r) => r.acked);
    const retried = unsettled.flatMap((b) => b.map((e) => e.id as string));
    expect(acked.length).toBeGreaterThan(2_000);
    expect(rounds.every((r) => r.refusalsWithoutRetryAfter === 0)).toBe(true);
    expect(new Set([...acked, ...retried]).size).toBe(acked.length + retried.length); // fresh ids everywhere

    // Look at the store itself (the service is stopped; this process opens the same engine directory).
    const store = await Store.open({ dataDir, database: 'audit' });
    try {
      const rows = await store.query<{ event_id: string; n: string }>(
        `SELECT toString(id) AS event_id, count() AS n FROM ${store.table('audit_activities')} WHERE tenant_id = 'acme' GROUP BY id`,
      );
      const counts = new Map(rows.map((r) => [r.event_id, Number(r.n)]));
      const missing = acked.filter((id) => counts.get(id) !== 1);
      const duplicated = rows.filter((r) => Number(r.n) > 1).length;
      const notRetriedOnce = retried.filter((id) => counts.get(id) !== 1);
      const unknown = rows.length - acked.length - retried.length; // rows nobody posted
      expect({ missing: missing.length, duplicated, notRetriedOnce: notRetriedOnce.length, unknown }).toEqual({
        missing: 0, duplicated: 0, notRetriedOnce: 0, unknown: 0,
      });
    } finally {
      await store.close();
    }
    // For the record (visible with --reporter=verbose): how the rounds went.
    console.log(JSON.stringify({
      acked: rounds.map((r) => r.acked.length), unsettled: rounds.map((r) => r.unsettled.length),
      statuses: rounds.map((r) => r.statuses), spooledBeforeKill, replayingAtStart: replaying.status, corruptRecordsSkipped: corrupt,
    }));
  });
});
