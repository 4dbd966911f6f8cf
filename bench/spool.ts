// Ingest throughput through HTTP with the spool path active vs the direct path, in one run.
// Each scenario starts the real service (`node bin/audithouse.js serve`) on loopback with a
// fresh data directory and posts batches of events with fresh ids from several connections.
//
//   node --import tsx bench/spool.ts [--seconds 10] [--connections 8] [--batch 1000]
//
// Scenarios:
//   direct      embedded ClickHouse, healthy: every batch is inserted before the 202
//   spool       server mode on a closed port: every batch is fsynced into the spool before the 202
//   spool+drain embedded, AUDIT_SPOOL_DEADLINE_MS=1: batches go through the spool while the
//               drainer replays it into ClickHouse concurrently (a store slower than the deadline)
//   drain       the spool left by "spool", replayed into the embedded engine at the next start
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ServiceProcess, freePort, writeToken } from '../test/support/service-process.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '8' }, batch: { type: 'string', default: '1000' } },
});
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const BATCH = Number(values.batch);

function body(n: number): string {
  const now = Date.now();
  return JSON.stringify(Array.from({ length: n }, (_, i) => ({
    id: crypto.randomUUID(),
    activity_type: 'file.uploaded',
    action: 'file_upload',
    severity: i % 10 === 0 ? 'HIGH' : 'LOW',
    description: `bench event ${now}-${i}`,
    resource_type: 'file',
    resource_id: `f-${i % 1000}`,
    details: { size: i * 17, filename: `report-${i}.pdf` },
  })));
}

interface Run {
  events: number;
  seconds: number;
  latencies: number[];
  refused: number;
}

async function load(url: string, token: string, seconds: number): Promise<Run> {
  const until = performance.now() + seconds * 1000;
  const start = performance.now();
  const run: Run = { events: 0, seconds: 0, latencies: [], refused: 0 };
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (performance.now() < until) {
      const payload = body(BATCH);
      const t0 = performance.now();
      const res = await fetch(`${url}/api/v1/audit/activities`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: payload,
      });
      await res.arrayBuffer();
      if (res.status === 202) {
        run.events += BATCH;
        run.latencies.push(performance.now() - t0);
      } else run.refused++;
    }
  }));
  run.seconds = (performance.now() - start) / 1000;
  return run;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

function report(name: string, r: Run) {
  return {
    scenario: name,
    'events/s': Math.round(r.events / r.seconds),
    events: r.events,
    'p50 ms': Math.round(pct(r.latencies, 50)),
    'p99 ms': Math.round(pct(r.latencies, 99)),
    refused: r.refused,
  };
}

const dirs: string[] = [];
async function scenario(env: Record<string, string>, dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'audithouse-bench-'))) {
  dirs.push(dataDir);
  const svc = await ServiceProcess.start(dataDir, { AUDIT_LOG_LEVEL: 'error', ...env });
  return { svc, dataDir };
}

const token = await writeToken();
const rows: Array<Record<string, unknown>> = [];

{
  const { svc } = await scenario({});
  await load(svc.url, token, 1); // warm-up: JIT, first parts
  rows.push(report('direct (embedded, healthy)', await load(svc.url, token, SECONDS)));
  await svc.terminate();
}

const closed = await freePort();
let spoolDir: string;
let spooled: number;
{
  const { svc, dataDir } = await scenario({ CLICKHOUSE_URL: `http://127.0.0.1:${closed}` });
  await load(svc.url, token, 1);
  const r = await load(svc.url, token, SECONDS);
  rows.push(report('spool (server mode, store down)', r));
  spooled = await svc.metric('audit_spool_events');
  await svc.terminate();
  spoolDir = dataDir;
}

{
  const { svc } = await scenario({ AUDIT_SPOOL_DEADLINE_MS: '1' });
  await load(svc.url, token, 1);
  const before = await svc.metric('audit_spool_appended_events_total');
  const r = await load(svc.url, token, SECONDS);
  const appended = (await svc.metric('audit_spool_appended_events_total')) - before;
  rows.push({
    ...report('spool+drain (embedded, 1 ms deadline)', r),
    'via spool': `${Math.round((100 * appended) / r.events)}%`,
    'backlog at end': await svc.metric('audit_spool_events'),
  });
  await svc.terminate();
}

{
  const t0 = performance.now();
  const svc = await ServiceProcess.start(spoolDir, { AUDIT_LOG_LEVEL: 'error' }, 600_000);
  await svc.waitReady(600_000);
  const seconds = (performance.now() - t0) / 1000;
  rows.push({ scenario: `drain at start (${spooled} spooled events, incl. start-up)`, 'events/s': Math.round(spooled / seconds), events: spooled });
  await svc.terminate();
}

console.log(`\n${CONNECTIONS} connections, batches of ${BATCH} events, ${SECONDS} s per scenario, Node ${process.version}, ${os.cpus().length} CPUs\n`);
console.table(rows);
for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
