// §2 Single-event POSTs: requests/s and latency at 50 concurrent connections (autocannon),
// each request one event; and how many inserts ClickHouse saw into audit_activities meanwhile,
// the figure that says whether the write path batches (ClickHouse's guidance: about one insert
// per second per table). That count comes from the engine, not from the service's word: the
// block numbers of the table's parts during the run (lib/parts.ts), confirmed after the run
// from system.parts with the service stopped, and set beside the writer's own /metrics.
import autocannon from 'autocannon';
import type { BenchSection } from '../lib/context.ts';
import { generateEvents } from '../lib/corpus.ts';
import { PartWatcher } from '../lib/parts.ts';
import type { ResultRow } from '../lib/report.ts';
import { describeStop, metricsText, writerActivity } from '../lib/service.ts';
import { fmt, median } from '../lib/stats.ts';

const DB = 'audit';
const TABLE = 'audit_activities';

interface InsertParts {
  parts: number;
  rows: number;
  minRows: number;
  maxRows: number;
  firstS: number;
  lastS: number;
  maxBlock: number;
}

export const singleSection: BenchSection = {
  ids: ['2'],
  title: 'Single-event POSTs',
  async run(ctx) {
    const o = ctx.opts.single;
    // A service of its own: its memory (§7) is that of single posts, not what §1's batches left.
    const svc = await ctx.startService('single');
    // One realistic event; no id and no timestamp, so the service assigns both (each request a new event).
    const { id: _id, timestamp: _ts, tenant_id: _t, ...event } = generateEvents(1, 7, ctx.nowMs)[0]!;
    const token = await svc.token({ tenant: 'tenant-0042', scope: 'audit:write', sub: 'svc-billing' });
    const run = (seconds: number) =>
      autocannon({
        url: `${svc.url}/api/v1/audit/activities`,
        connections: o.connections,
        duration: seconds,
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(event),
        timeout: 10,
      });
    const warm = await run(2); // warm-up: JIT, first parts, connection setup
    let stored = warm['2xx'];
    svc.resetPeak();
    const before = await metricsText(svc);
    const watcher = new PartWatcher(svc.enginePath, DB);
    const rps: number[] = [];
    const p50: number[] = [];
    const p99: number[] = [];
    let failed = 0;
    for (let round = 0; round < o.rounds; round++) {
      const r = await run(o.seconds);
      failed += r.non2xx + r.errors + r.timeouts;
      stored += r['2xx'];
      rps.push(r['2xx'] / r.duration);
      p50.push(r.latency.p50);
      p99.push(r.latency.p99);
      ctx.log(`  round ${round + 1}/${o.rounds}: ${fmt(rps.at(-1), 0)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ${r.non2xx + r.errors + r.timeouts} failed`);
    }
    const parts = watcher.stop();
    ctx.shared.peakRssSingle = svc.peakRssBytes();
    const w = writerActivity(before, await metricsText(svc));
    const m = { rps: median(rps), p50: median(p50), p99: median(p99) };

    // ClickHouse's own account of the window, once the service has let go of the directory.
    ctx.log(`  ${describeStop('service', await svc.stop(), ctx.opts.profile)}`);
    const engine = await ctx.engine('service-after-s2', svc.dataDir);
    const fromBlock = parts.first[TABLE] ?? 0;
    const toBlock = parts.last[TABLE] ?? 0;
    const seen = await engine.call<InsertParts>('insertParts', { database: DB, table: TABLE, fromBlock, toBlock });
    await engine.stop();
    const perSecond = parts.perSecond(TABLE);
    const confirmed = seen.parts === parts.parts[TABLE] && seen.maxBlock >= toBlock;
    const fanOut = Object.entries(parts.parts).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
    const allParts = fanOut.reduce((sum, [, n]) => sum + n, 0);

    const rows: ResultRow[] = [
      { section: '2', measure: `Single-event POSTs, ${o.connections} connections (req/s answered 202)`, value: fmt(m.rps, 0), target: '≥ 5,000', met: m.rps >= 5000 && failed === 0 },
      { section: '2', measure: 'latency p50 / p99 (ms)', value: `${fmt(m.p50, 0)} / ${fmt(m.p99, 0)}`, target: 'p99 ≤ 50 ms', met: m.p99 <= 50 },
      { section: '2', measure: 'answers other than 202 (errors, timeouts, non-202 statuses)', value: fmt(failed, 0), target: '0', met: failed === 0 },
      {
        section: '2',
        measure: `ClickHouse inserts into ${TABLE} per second during the run (new parts, from the engine's block numbers)`,
        value: `${fmt(perSecond, 1)}/s`,
        target: '≤ 2/s',
        met: perSecond <= 2,
      },
    ];
    return [{
      id: '2',
      title: this.title,
      rows,
      notes: [
        `autocannon ${o.rounds} × ${o.seconds} s after a 2 s warm-up, medians; load generator and service share the machine's cores; ${failed} non-202 or failed requests.`,
        `Every round: ${rps.map((x) => fmt(x, 0)).join(', ')} req/s; p99 ${p99.join(', ')} ms.`,
        `Inserts seen by ClickHouse: ${TABLE}'s block numbers went from ${fromBlock} to ${toBlock} over the ${fmt(parts.seconds, 1)} s of the rounds (sampled each second from its part directories; every insert takes one per part it writes, one part here since single events are stamped now): ${fmt(parts.parts[TABLE] ?? 0, 0)} new parts, ${fmt(perSecond, 1)}/s on average, ${fmt(parts.peakPerSecond(TABLE), 1)}/s in the busiest second.`,
        `Engine cross-check (service stopped, its directory opened in a worker, system.parts incl. merged-away parts still on disk): ${fmt(seen.parts, 0)} level-0 parts in that block range holding ${fmt(seen.rows, 0)} rows (${fmt(seen.minRows, 0)}–${fmt(seen.maxRows, 0)} per part, ${fmt(seen.rows / Math.max(1, seen.parts), 1)} on average), created over ${seen.lastS - seen.firstS + 1} s (part directories' seconds); the engine's last block number ${seen.maxBlock} (${seen.maxBlock - toBlock} more inserted after the window, before the service exited)${confirmed ? ', consistent with the run\'s reading' : ` — **does not match the run's reading (${fmt(parts.parts[TABLE] ?? 0, 0)} parts, block ${toBlock})**`}.`,
        `The writer's own /metrics over the same window: ${fmt(w.inserts, 0)} inserts (audit_ingest_batch_size count), ${fmt(w.insertCalls, 0)} store insert calls (audit_query_duration_seconds{operation="insert"}), ${fmt(w.rowsPerInsert, 1)} rows per insert; per flush ${fmt(w.dedupeMs, 1)} ms id lookup + ${fmt(w.insertMs, 1)} ms insert.`,
        `Fan-out: every table's new parts in the window, ${fmt(allParts / Math.max(parts.seconds, 1e-9), 1)}/s over all: ${fanOut.map(([t, n]) => `${t} ${fmt(n, 0)}`).join(', ')}.`,
      ],
      data: { rps, p50, p99, failed, writer: w, parts: { seconds: parts.seconds, perTable: parts.parts, first: parts.first, last: parts.last }, engine: seen },
    }];
  },
};
