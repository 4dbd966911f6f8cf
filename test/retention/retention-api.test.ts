// The retention and archive HTTP API (admin only, problem+json errors), the metrics the job
// keeps, and the croner schedule.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sha256File } from '../../src/archive/files.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { retentionRunCommand } from '../../src/retention/cli.ts';
import { startRetentionSchedule } from '../../src/retention/schedule.ts';
import { bodyOf, createTestService, problemOf, testEnv } from '../support/service.ts';
import { DAY, createRetentionService, eventAt, type RetentionTestService } from '../support/retention.ts';

let t: RetentionTestService;
const now = Date.now();
beforeAll(async () => {
  t = await createRetentionService();
  await t.postEvents([
    eventAt(now - 40 * DAY, 'LOW'), eventAt(now - 41 * DAY, 'LOW'), eventAt(now - 45 * DAY, 'LOW'),
    eventAt(now - 100 * DAY, 'HIGH'), eventAt(now - 200 * DAY, 'CRITICAL'), eventAt(now - 2 * DAY, 'MEDIUM'),
  ]);
});
afterAll(async () => {
  await t.close();
  fs.rmSync(t.archiveDir, { recursive: true, force: true });
});

const post = (p: string, token?: string) =>
  t.app.request(p, { method: 'POST', headers: token ? { Authorization: `Bearer ${token}` } : {} });

function metricValue(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('POST /api/v1/audit/retention/run', () => {
  it('needs a token with audit:admin', async () => {
    const none = await post('/api/v1/audit/retention/run');
    expect(none.status).toBe(401);
    const writer = await post('/api/v1/audit/retention/run', await t.token({ scope: 'audit:read audit:write' }));
    expect(writer.status).toBe(403);
    expect(writer.headers.get('content-type')).toContain('application/problem+json');
    expect((await problemOf(writer)).type).toMatch(/missing-scope$/);
  });

  it('refuses a malformed dry_run with 400 and changes nothing', async () => {
    const before = await t.count();
    const res = await post('/api/v1/audit/retention/run?dry_run=maybe', t.adminToken);
    expect(res.status).toBe(400);
    expect((await problemOf(res)).errors![0]!.field).toBe('dry_run');
    // A misspelt parameter is refused too: it must never turn a dry run into a real one.
    const typo = await post('/api/v1/audit/retention/run?dryrun=true', t.adminToken);
    expect(typo.status).toBe(400);
    expect(await t.count()).toBe(before);
  });

  it('dry_run=true reports per partition and severity what would go, and deletes nothing', async () => {
    const before = await t.count();
    const res = await post('/api/v1/audit/retention/run?dry_run=true', t.adminToken);
    expect(res.status).toBe(200);
    const report = await bodyOf(res, 'post', '/api/v1/audit/retention/run?dry_run=true');
    expect(report.dry_run).toBe(true);
    // Judged against the wall clock: 3 LOW, 1 HIGH expired; CRITICAL (180 d) too; MEDIUM is 2 days old.
    expect(report.totals).toEqual({ archives: 0, archived_rows: 5, deleted_rows: 5 });
    const sum = (sev: string) => report.partitions.filter((p) => p.severity === sev).reduce((n, p) => n + p.deleted_rows, 0);
    expect([sum('LOW'), sum('MEDIUM'), sum('HIGH'), sum('CRITICAL')]).toEqual([3, 0, 1, 1]);
    expect(await t.count()).toBe(before);
    expect(fs.existsSync(path.join(t.archiveDir, 'HEAD.json'))).toBe(false);
  });

  it('runs the job, then GET /api/v1/audit/archives lists each archive with its rows and checksum', async () => {
    const res = await post('/api/v1/audit/retention/run', t.adminToken);
    expect(res.status).toBe(200);
    const report = await bodyOf(res, 'post', '/api/v1/audit/retention/run');
    expect(report.totals).toMatchObject({ archived_rows: 5, deleted_rows: 5 });

    const forbidden = await t.get('/api/v1/audit/archives');
    expect(forbidden.status).toBe(403);
    const list = await t.get('/api/v1/audit/archives', { token: t.adminToken });
    expect(list.status).toBe(200);
    const { data, next_cursor } = await list.json();
    expect(next_cursor).toBeNull();
    expect(data.map((a) => a.seq)).toEqual(report.archives.map((a) => a.seq));
    expect(data.reduce((n, a) => n + a.row_count, 0)).toBe(5);
    for (const a of data) {
      expect((await sha256File(path.join(t.archiveDir, a.file))).sha256).toBe(a.file_sha256);
      expect(a).toMatchObject({ state: 'deleted', deleted_rows: a.row_count });
    }
    const page1 = await (await t.get('/api/v1/audit/archives?limit=1', { token: t.adminToken })).json();
    expect(page1.data).toHaveLength(1);
    const page2 = await (await t.get(`/api/v1/audit/archives?limit=1&cursor=${page1.next_cursor}`, { token: t.adminToken })).json();
    expect(page2.data[0]!.seq).toBe(data[1]!.seq);
    expect((await t.get('/api/v1/audit/archives?cursor=abc', { token: t.adminToken })).status).toBe(400);
  });

  it('exports the retention metrics on /metrics', async () => {
    const text = await (await t.app.request('/metrics')).text();
    expect(metricValue(text, 'audit_retention_archived_total', '{severity="LOW"}')).toBe(3);
    expect(metricValue(text, 'audit_retention_deleted_total', '{severity="LOW"}')).toBe(3);
    expect(metricValue(text, 'audit_retention_archived_total', '{severity="CRITICAL"}')).toBe(1);
    expect(metricValue(text, 'audit_retention_errors_total')).toBe(0);
    const last = metricValue(text, 'audit_retention_last_success_timestamp_seconds')!;
    expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(120);
    expect(metricValue(text, 'audit_storage_size_bytes')).toBeGreaterThan(0);
  });
});

describe('audithouse retention run', () => {
  it('runs from the CLI verb on the same database (--dry-run --json, then for real)', async () => {
    const config = loadConfig(testEnv({ CLICKHOUSE_DATABASE: t.database, AUDIT_ARCHIVE_LOCATION: t.archiveDir, AUDIT_RETENTION_LOW: '1' }));
    await t.postEvents([eventAt(now - 3 * DAY, 'LOW')]);
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
    try {
      expect(await retentionRunCommand(['--dry-run', '--json'], config)).toBe(0);
      expect(JSON.parse(out.join('')).totals).toEqual({ archives: 0, archived_rows: 1, deleted_rows: 1 });
      out.length = 0;
      expect(await retentionRunCommand([], config)).toBe(0);
      expect(out.join('')).toMatch(/1 row\(s\) archived in 1 archive\(s\), 1 deleted/);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('schedule', () => {
  it('AUDIT_RETENTION_SCHEDULE must be a cron pattern or "off"', () => {
    expect(loadConfig({}).retention.schedule).toBe('0 2 * * *');
    expect(loadConfig({ AUDIT_RETENTION_SCHEDULE: 'off' }).retention.schedule).toBe('off');
    expect(loadConfig({ AUDIT_RETENTION_SCHEDULE: '*/15 * * * *' }).retention.schedule).toBe('*/15 * * * *');
    expect(() => loadConfig({ AUDIT_RETENTION_SCHEDULE: 'every night' })).toThrow(ConfigError);
    expect(() => loadConfig({ AUDIT_RETENTION_SCHEDULE: '61 * * * *' })).toThrow(/AUDIT_RETENTION_SCHEDULE/);
  });

  it('runs the job on the croner schedule and keeps the storage gauge fresh', async () => {
    t.services.metrics.retentionLastSuccess.set(0);
    t.services.metrics.storageSize.set(0);
    const every = { ...t.services, config: { ...t.services.config, retention: { ...t.services.config.retention, schedule: '* * * * * *' } } };
    const schedule = startRetentionSchedule(every);
    try {
      expect(schedule.nextRun()!.getTime() - Date.now()).toBeLessThanOrEqual(1000);
      const deadline = Date.now() + 10_000;
      while ((await t.services.metrics.retentionLastSuccess.get()).values[0]!.value === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect((await t.services.metrics.retentionLastSuccess.get()).values[0]!.value).toBeGreaterThan(0);
      expect((await t.services.metrics.storageSize.get()).values[0]!.value).toBeGreaterThan(0);
    } finally {
      schedule.stop();
    }
    await t.services.retention.idle();
    const off = startRetentionSchedule({ ...t.services, config: { ...t.services.config, retention: { ...t.services.config.retention, schedule: 'off' } } });
    expect(off.nextRun()).toBeNull();
    off.stop();
  });

  it('with several replicas on one database, each scheduled run happens on exactly one of them (ClickHouse lease)', async () => {
    // Two replicas' timers fire every second; the job itself is replaced by a recorder (it is the
    // lease, in the real engine, that is under test here).
    // A database of its own: the test above already holds this minute's lease on t's database.
    const own = await createTestService();
    const runs: Array<{ replica: string; minute: number }> = [];
    const replica = (name: string) => startRetentionSchedule({
      ...own.services,
      config: { ...own.services.config, retention: { ...own.services.config.retention, schedule: '* * * * * *' } },
      retention: { run: async () => void runs.push({ replica: name, minute: Math.floor(Date.now() / 60_000) }) } as unknown as typeof own.services.retention,
    }, { holder: name });
    const a = replica('replica-a');
    const b = replica('replica-b');
    await new Promise((r) => setTimeout(r, 3_500)); // a window of several ticks for both replicas
    // At least two runs, however slow the machine: the window above alone did not promise that.
    await vi.waitFor(() => expect(runs.length).toBeGreaterThanOrEqual(2), { timeout: 30_000, interval: 100 });
    a.stop();
    b.stop();
    await own.close();
    expect(runs.length).toBeGreaterThanOrEqual(2);
    for (const minute of new Set(runs.map((r) => r.minute))) {
      expect(new Set(runs.filter((r) => r.minute === minute).map((r) => r.replica)).size).toBe(1);
    }
  });
});
