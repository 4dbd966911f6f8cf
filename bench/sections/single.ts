// §2 Single-event POSTs: requests/s and latency at 50 concurrent connections (autocannon),
// each request one event, answered 202 only once stored: the batching writer turns the
// concurrent requests into few inserts (group commit).
import autocannon from 'autocannon';
import type { BenchSection } from '../lib/context.ts';
import { generateEvents } from '../lib/corpus.ts';
import { metricsText, writerActivity } from '../lib/service.ts';
import { fmt, median } from '../lib/stats.ts';

export const singleSection: BenchSection = {
  ids: ['2'],
  title: 'Single-event POSTs',
  async run(ctx) {
    const o = ctx.opts.single;
    const svc = await ctx.service();
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
    ctx.shared.peakRssSingle = svc.peakRssBytes();
    ctx.shared.eventsPosted = ((ctx.shared.eventsPosted as number | undefined) ?? 0) + stored;
    const w = writerActivity(before, await metricsText(svc));
    const m = { rps: median(rps), p50: median(p50), p99: median(p99) };
    return [{
      id: '2',
      title: this.title,
      rows: [
        { section: '2', measure: `Single-event POSTs, ${o.connections} connections (req/s, 202 = stored)`, value: fmt(m.rps, 0), target: '≥ 5,000', met: m.rps >= 5000 && failed === 0 },
        { section: '2', measure: 'latency p50 / p99 (ms)', value: `${fmt(m.p50, 0)} / ${fmt(m.p99, 0)}`, target: 'p99 ≤ 50 ms', met: m.p99 <= 50 },
      ],
      notes: [
        `autocannon ${o.rounds} × ${o.seconds} s after a 2 s warm-up, medians; load generator and service share the machine's cores; ${failed} non-202 or failed requests.`,
        `Every round: ${rps.map((x) => fmt(x, 0)).join(', ')} req/s; p99 ${p99.join(', ')} ms.`,
        `The writer (from /metrics): ${fmt(w.inserts, 0)} inserts of ${fmt(w.rowsPerInsert, 1)} rows on average; per flush ${fmt(w.dedupeMs, 1)} ms id lookup + ${fmt(w.insertMs, 1)} ms insert.`,
      ],
      data: { rps, p50, p99, failed, writer: w },
    }];
  },
};
