// §1 Ingest vs raw: events/s through the HTTP API (JSON arrays of 1,000 events, several
// keep-alive connections) against @clickhouse/client inserting the same events into the same
// engine directly, alternating rounds in the same run, medians of the rounds → the ratios.
// Two HTTP rates per round: acknowledged (until the last 202) and stored (until every posted
// event is in ClickHouse). A write path that acknowledges from a local log before storing makes
// them differ; the target is judged on the stored one, against the raw client's best case
// (20,000-row batches), since the raw client's rows are stored when its insert returns.
// Also: the Postgres peer's COPY of the same events into the guide's indexed table.
//
// The "spool path vs direct path" row of earlier runs is gone: issue 14 leaves one write path
// (log first), and acknowledged vs stored now shows what acknowledging from a log buys.
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { BenchContext, BenchSection } from '../lib/context.ts';
import { generateEvents, type WireEvent } from '../lib/corpus.ts';
import { postBodies } from '../lib/http-load.ts';
import { copyText, PG_COPY, PG_INDEXES, PG_TABLE } from '../lib/postgres.ts';
import type { ResultRow, SectionResult } from '../lib/report.ts';
import { metricsText, storedEvents, waitUntilStored, writerActivity, type ServiceProcess } from '../lib/service.ts';
import { fmt, median } from '../lib/stats.ts';

const rate = (events: number, ms: number) => (events / ms) * 1000;

function batches(events: WireEvent[], size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < events.length; i += size) out.push(Buffer.from(JSON.stringify(events.slice(i, i + size))));
  return out;
}

interface HttpRound {
  /** events/s until the last 202. */
  acked: number;
  /** events/s until every posted event is in ClickHouse (the wait after the last 202 included). */
  stored: number;
  /** ms from the last 202 until all of the round was stored. */
  tailMs: number;
}

async function httpRound(ctx: BenchContext, svc: ServiceProcess, seed: number): Promise<HttpRound> {
  const o = ctx.opts.ingest;
  const bodies = batches(generateEvents(o.eventsPerRound, seed, ctx.nowMs), o.batch);
  const token = await svc.token();
  const storedBefore = storedEvents(await metricsText(svc));
  const r = await postBodies(svc.url, token, bodies, o.connections);
  if (r.failures > 0) throw new Error(`HTTP ingest: ${r.failures} of ${r.requests} requests failed; first: ${r.firstFailure}`);
  const tailMs = await waitUntilStored(svc, storedBefore + o.eventsPerRound);
  return { acked: rate(o.eventsPerRound, r.ms), stored: rate(o.eventsPerRound, r.ms + tailMs), tailMs };
}

/** COPY text rows of the corpus, built before the clock starts. */
function copyRows(events: WireEvent[], receivedAt: number): Buffer {
  const recv = new Date(receivedAt).toISOString();
  const lines = events.map((e) => [
    e.id, e.tenant_id, e.timestamp, recv, e.activity_type, e.severity, e.action, e.outcome, e.resource_type,
    e.user_agent, e.user_id, e.resource_id, e.ip_address, e.request_id, e.description, JSON.stringify(e.details),
  ].map(copyText).join('\t'));
  return Buffer.from(lines.join('\n') + '\n');
}

export const ingestSection: BenchSection = {
  ids: ['1'],
  title: 'Ingest vs raw client',
  async run(ctx) {
    const o = ctx.opts.ingest;
    const svc = await ctx.service();
    const raw = await ctx.engine('raw-insert');
    svc.resetPeak();
    const before = await metricsText(svc);
    const http: HttpRound[] = [];
    const raw1k: number[] = [];
    const rawBig: number[] = [];
    const bigBatch = 20_000; // the writer's default AUDIT_BATCH_MAX_ROWS
    const settle = () => new Promise((r) => setTimeout(r, 500));
    for (let round = 0; round < o.rounds; round++) {
      const seed = 1000 + round;
      // Alternate who goes first so drift on a shared machine does not favour one side.
      const rawRun = async () => {
        const ms = await raw.call<number>('rawInsert', { database: 'audit', seed, count: o.eventsPerRound, batch: o.batch, nowMs: ctx.nowMs });
        raw1k.push(rate(o.eventsPerRound, ms));
        await settle();
        const msBig = await raw.call<number>('rawInsert', { database: 'audit_big', seed, count: o.eventsPerRound, batch: bigBatch, nowMs: ctx.nowMs });
        rawBig.push(rate(o.eventsPerRound, msBig));
      };
      const httpRun = async () => {
        http.push(await httpRound(ctx, svc, seed));
      };
      if (round % 2 === 0) {
        await rawRun();
        await settle();
        await httpRun();
      } else {
        await httpRun();
        await settle();
        await rawRun();
      }
      await settle();
      ctx.log(`  round ${round + 1}/${o.rounds}: http ${fmt(http.at(-1)!.acked)}/s acknowledged, ${fmt(http.at(-1)!.stored)}/s stored, raw ${fmt(raw1k.at(-1))}/s (batches of ${o.batch}), raw ${fmt(rawBig.at(-1))}/s (batches of ${bigBatch})`);
    }
    ctx.shared.peakRssIngest = svc.peakRssBytes();
    ctx.shared.eventsPosted = ((ctx.shared.eventsPosted as number | undefined) ?? 0) + o.rounds * o.eventsPerRound;
    const w = writerActivity(before, await metricsText(svc));
    const acked = median(http.map((x) => x.acked));
    const stored = median(http.map((x) => x.stored));
    const r1 = median(raw1k);
    const rb = median(rawBig);
    const what = `HTTP ingest, JSON arrays of ${fmt(o.batch, 0)}, ${o.connections} connections`;
    const rows: ResultRow[] = [
      {
        section: '1',
        measure: `${what}: stored events/s (until every posted event is in ClickHouse) vs raw client inserting ${fmt(bigBatch, 0)}-row batches (its best case)`,
        value: fmt(stored, 0),
        peer: fmt(rb, 0),
        ratio: `${fmt(stored / rb, 2)}×`,
        target: '≥ 0.8×',
        met: stored / rb >= 0.8,
      },
      {
        section: '1',
        measure: `… acknowledged events/s (until the last 202) vs raw client inserting ${fmt(bigBatch, 0)}-row batches`,
        value: fmt(acked, 0),
        peer: fmt(rb, 0),
        ratio: `${fmt(acked / rb, 2)}×`,
      },
      {
        section: '1',
        measure: `… stored events/s vs raw client inserting the same ${fmt(o.batch, 0)}-event batches`,
        value: fmt(stored, 0),
        peer: fmt(r1, 0),
        ratio: `${fmt(stored / r1, 2)}×`,
      },
    ];
    const notes = [
      `${o.rounds} round(s) of ${fmt(o.eventsPerRound, 0)} events each side, medians; rounds alternate which side goes first; every round posts new ids into a growing table (both sides).`,
      `Stored = the round's events over the time from the first post until the service's /metrics showed all of them stored (audit_activities_total grown by the round, audit_spool_events 0), polled every 20 ms; acknowledged = until the last 202. After the last 202: ${http.map((x) => `${fmt(x.tailMs, 0)} ms`).join(', ')} until stored.`,
      `The writer (from /metrics): ${fmt(w.inserts, 0)} inserts of ${fmt(w.rowsPerInsert, 0)} rows on average; per flush ${fmt(w.dedupeMs, 1)} ms id lookup + ${fmt(w.insertMs, 1)} ms insert.`,
      `Every round: http acknowledged ${http.map((x) => fmt(x.acked, 0)).join(', ')}, stored ${http.map((x) => fmt(x.stored, 0)).join(', ')}; raw ${raw1k.map((x) => fmt(x, 0)).join(', ')}; raw ${fmt(bigBatch, 0)}-row ${rawBig.map((x) => fmt(x, 0)).join(', ')} events/s.`,
    ];

    const results: SectionResult[] = [{ id: '1', title: this.title, rows, notes, data: { http, raw1k, rawBig, writer: w } }];

    // The peer's ingest: COPY of the same events into the guide's indexed table.
    if (ctx.postgres) {
      const pgc = await ctx.postgres.client();
      try {
        await pgc.query('DROP TABLE IF EXISTS audit_activities');
        await pgc.query(PG_TABLE);
        for (const ddl of PG_INDEXES) await pgc.query(ddl);
        const pgRates: number[] = [];
        for (let round = 0; round < o.rounds; round++) {
          const buf = copyRows(generateEvents(o.eventsPerRound, 1000 + round, ctx.nowMs), Date.now());
          const t = performance.now();
          const stream = pgc.query(copyFrom(PG_COPY));
          await pipeline(async function* () {
            // 1 MiB writes: the driver's socket, not our chunking, sets the pace.
            for (let i = 0; i < buf.length; i += 1 << 20) yield buf.subarray(i, i + (1 << 20));
          }, stream as unknown as Writable);
          pgRates.push(rate(o.eventsPerRound, performance.now() - t));
        }
        ctx.shared.pgIngest = median(pgRates);
        ctx.shared.httpIngest = stored; // COPY's rows are stored when it returns: compare stored with stored
      } finally {
        await pgc.end();
      }
    }
    return results;
  },
};
