// Archive export and verify speed on N generated rows (default 1,000,000), embedded engine.
//   node --import tsx bench/archive.ts [rows]
// Rows are generated inside ClickHouse (INSERT ... SELECT FROM numbers()), all expired, spread
// over 60 days (two or three month partitions) and four severities; the retention job then
// archives and deletes them, and `archive verify` (the CLI, in its own process, with only the
// public key) checks them.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { createMetrics } from '../src/metrics.ts';
import { RetentionJob } from '../src/retention/job.ts';
import { tableTtl } from '../src/retention/policy.ts';
import { Store } from '../src/store/client.ts';
import { migrate } from '../src/store/migrate.ts';

const rows = Number(process.argv[2] ?? 1_000_000);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'audithouse-bench-'));
const config = loadConfig({
  AUDIT_DATA_DIR: dataDir,
  CLICKHOUSE_DATABASE: 'bench',
  AUDIT_LOG_LEVEL: 'ERROR',
  AUDIT_RETENTION_CRITICAL: '100',
});
const metrics = createMetrics({ defaultMetrics: false });
const store = await Store.fromConfig(config, metrics);
await migrate(store, { ttl: tableTtl(config) });

const DAY = 86_400_000;
const end = Date.now() - 200 * DAY; // every row older than any retention
const t0 = performance.now();
await store.command(
  `INSERT INTO ${store.table('audit_activities')}
   (id, tenant_id, timestamp, received_at, activity_type, severity, action, outcome, resource_type, user_agent,
    user_id, resource_id, ip_address, request_id, description, details)
   SELECT generateUUIDv4(number), concat('tenant-', toString(number % 20)),
     fromUnixTimestamp64Milli(toInt64({end:Int64} - (number * 5183) % (60 * 86400000))),
     fromUnixTimestamp64Milli(toInt64({end:Int64})),
     ['user.login', 'file.uploaded', 'api.request', 'permission.granted'][number % 4 + 1],
     ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'][number % 4 + 1],
     ['login', 'file_upload', 'get', 'grant'][number % 4 + 1],
     if(number % 17 = 0, 'failure', 'success'), 'file', 'Mozilla/5.0 (X11; Linux x86_64) bench/1.0',
     concat('user-', toString(number % 5000)), concat('f-', toString(number)),
     concat('10.0.', toString(number % 256), '.', toString(number % 253)), concat('req-', toString(number)),
     concat('Uploaded report-', toString(number), '.pdf to the shared folder'),
     concat('{"filename":"report-', toString(number), '.pdf","size":', toString(number % 100000), ',"tags":["q3","finance"]}')
   FROM numbers({rows:UInt64})`,
  { end, rows },
);
const inserted = (performance.now() - t0) / 1000;

const job = new RetentionJob({ store, config, metrics, log: createLogger({ level: 'error' }) });
let exportMs = 0;
let archiveStart = 0;
const rssBefore = process.memoryUsage().rss;
let peakRss = rssBefore;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
const runStart = performance.now();
let lastCommitted = 0;
const report = await job.run({
  onStep: (step) => {
    if (step === 'export-chunk' && archiveStart === 0) archiveStart = performance.now();
    if (step === 'committed') {
      exportMs += performance.now() - archiveStart;
      archiveStart = 0;
      lastCommitted = performance.now();
    }
  },
});
const runEnd = performance.now();
const runSeconds = (runEnd - runStart) / 1000;
clearInterval(sampler);
const left = Number((await store.query<{ n: string }>(`SELECT count() AS n FROM ${store.table('audit_activities')}`))[0]!.n);
await store.close();

const archiveDir = config.retention.archiveLocation;
const bytes = report.archives.reduce((n, a) => n + fs.statSync(path.join(archiveDir, a.file)).size, 0);
const key = path.join(archiveDir, 'keys', fs.readdirSync(path.join(archiveDir, 'keys')).find((f) => f.endsWith('.pem'))!);
const v0 = performance.now();
const out = execFileSync(process.execPath, ['bin/audithouse.js', 'archive', 'verify', archiveDir, '--public-key', key], {
  env: { PATH: process.env.PATH, AUDIT_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'audithouse-empty-')), AUDIT_LOG_LEVEL: 'ERROR' },
  encoding: 'utf8',
});
const verifySeconds = (performance.now() - v0) / 1000;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(`rows generated:        ${fmt(rows)} in ${inserted.toFixed(1)} s`);
console.log(`retention run:         ${report.totals.archives} archives, ${fmt(report.totals.archived_rows)} rows archived, ${fmt(report.totals.deleted_rows)} deleted, ${fmt(left)} left, ${runSeconds.toFixed(1)} s total`);
console.log(`  export (stream → gzip → fsync → re-read + verify + stage keys → sign): ${(exportMs / 1000).toFixed(1)} s = ${fmt(report.totals.archived_rows / (exportMs / 1000))} rows/s`);
console.log(`  delete (one mutation) and bookkeeping: ${((runEnd - lastCommitted) / 1000).toFixed(1)} s`);
console.log(`  archive size: ${(bytes / 1024 / 1024).toFixed(1)} MiB gzip (${(bytes / report.totals.archived_rows).toFixed(0)} B/row); RSS ${(rssBefore / 1024 / 1024).toFixed(0)} MiB before the run, peak ${(peakRss / 1024 / 1024).toFixed(0)} MiB during it`);
console.log(`archive verify (CLI, own process, public key only): ${verifySeconds.toFixed(1)} s = ${fmt(report.totals.archived_rows / verifySeconds)} rows/s`);
console.log(`  ${out.trim()}`);
fs.rmSync(dataDir, { recursive: true, force: true });
