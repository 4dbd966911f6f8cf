// §1 Ingest vs raw: events/s through the HTTP API (JSON arrays of 1,000 events, several
// keep-alive connections) against @clickhouse/client inserting the same events into the same
// engine directly, alternating rounds in the same run, medians of the rounds → the ratio.
// Also: the same through the spool path (when the spool exists) and the Postgres peer's COPY of
// the same events into the guide's indexed table (its best case).
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { BenchContext, BenchSection } from '../lib/context.ts';
import { generateEvents, type WireEvent } from '../lib/corpus.ts';
import { configMentions } from '../lib/features.ts';
import { postBodies } from '../lib/http-load.ts';
import { copyText, PG_COPY, PG_INDEXES, PG_TABLE } from '../lib/postgres.ts';
import type { ResultRow, SectionResult } from '../lib/report.ts';
import { metricsText, ServiceProcess, writerActivity } from '../lib/service.ts';
import { fmt, median } from '../lib/stats.ts';

/**
 * How the spool path is forced on (issue 7). The obvious knob is assumed; the lead wires the
 * real one when the spool lands. The run reports the spool gauge it saw, so a knob that does
 * nothing shows up as "0 events spooled".
 */
// A 1 ms deadline sends (almost) every batch through the spool: appended, fsynced, acknowledged,
// then drained into ClickHouse by the background drainer.
export const SPOOL_FORCE_ENV: Record<string, string> = { AUDIT_SPOOL_DEADLINE_MS: '1' };

const rate = (events: number, ms: number) => (events / ms) * 1000;

function batches(events: WireEvent[], size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < events.length; i += size) out.push(Buffer.from(JSON.stringify(events.slice(i, i + size))));
  return out;
}

async function httpRound(ctx: BenchContext, svc: ServiceProcess, seed: number): Promise<number> {
  const o = ctx.opts.ingest;
  const bodies = batches(generateEvents(o.eventsPerRound, seed, ctx.nowMs), o.batch);
  const token = await svc.token();
  const r = await postBodies(svc.url, token, bodies, o.connections);
  if (r.failures > 0) throw new Error(`HTTP ingest: ${r.failures} of ${r.requests} requests failed; first: ${r.firstFailure}`);
  return rate(o.eventsPerRound, r.ms);
}

async function spoolGauge(svc: ServiceProcess): Promise<number | undefined> {
  const text = await (await fetch(`${svc.url}/metrics`)).text();
  const m = /^audit_spool_events(?:\{[^}]*\})?\s+([0-9.e+]+)/m.exec(text);
  return m ? Number(m[1]) : undefined;
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
    const http: number[] = [];
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
      ctx.log(`  round ${round + 1}/${o.rounds}: http ${fmt(http.at(-1))}/s, raw ${fmt(raw1k.at(-1))}/s (batches of ${o.batch}), raw ${fmt(rawBig.at(-1))}/s (batches of ${bigBatch})`);
    }
    ctx.shared.peakRssIngest = svc.peakRssBytes();
    ctx.shared.eventsPosted = ((ctx.shared.eventsPosted as number | undefined) ?? 0) + o.rounds * o.eventsPerRound;
    const w = writerActivity(before, await metricsText(svc));
    const h = median(http);
    const r1 = median(raw1k);
    const rb = median(rawBig);
    const rows: ResultRow[] = [
      {
        section: '1',
        measure: `HTTP ingest, JSON arrays of ${fmt(o.batch, 0)}, ${o.connections} connections (events/s) vs raw client, same batches`,
        value: fmt(h, 0),
        peer: fmt(r1, 0),
        ratio: `${fmt(h / r1, 2)}×`,
        target: '≥ 0.8×',
        met: h / r1 >= 0.8,
      },
      {
        section: '1',
        measure: `… vs raw client inserting ${fmt(bigBatch, 0)}-row batches (its best case)`,
        value: fmt(h, 0),
        peer: fmt(rb, 0),
        ratio: `${fmt(h / rb, 2)}×`,
      },
    ];
    const notes = [
      `${o.rounds} round(s) of ${fmt(o.eventsPerRound, 0)} events each side, medians; rounds alternate which side goes first; every round posts new ids into a growing table (both sides).`,
      `The writer (from /metrics): ${fmt(w.inserts, 0)} inserts of ${fmt(w.rowsPerInsert, 0)} rows on average; per flush ${fmt(w.dedupeMs, 1)} ms id lookup + ${fmt(w.insertMs, 1)} ms insert.`,
      `Every round: http ${http.map((x) => fmt(x, 0)).join(', ')}; raw ${raw1k.map((x) => fmt(x, 0)).join(', ')}; raw ${fmt(bigBatch, 0)}-row ${rawBig.map((x) => fmt(x, 0)).join(', ')} events/s.`,
    ];

    // The spool path (issue 7), when it exists.
    if (configMentions('spool')) {
      const spoolSvc = await ServiceProcess.start({ dataDir: `${ctx.root}/service-spool`, env: SPOOL_FORCE_ENV });
      try {
        const spooled: number[] = [];
        let gaugeMax = 0;
        for (let round = 0; round < o.rounds; round++) {
          spooled.push(await httpRound(ctx, spoolSvc, 2000 + round));
          gaugeMax = Math.max(gaugeMax, (await spoolGauge(spoolSvc)) ?? 0);
        }
        const s = median(spooled);
        rows.push({ section: '1', measure: `HTTP ingest through the spool path (${Object.entries(SPOOL_FORCE_ENV).map(([k, v]) => `${k}=${v}`).join(' ')}) vs the direct path`, value: fmt(s, 0), peer: fmt(h, 0), ratio: `${fmt(s / h, 2)}×` });
        notes.push(`Spool run: audit_spool_events gauge seen up to ${fmt(gaugeMax, 0)} (0 means the knob did not force the spool).`);
      } finally {
        await spoolSvc.stop();
      }
    } else {
      rows.push({ section: '1', measure: 'HTTP ingest through the spool path', value: 'skipped: spool (issue 7) not present' });
    }

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
        ctx.shared.httpIngest = h;
      } finally {
        await pgc.end();
      }
    }
    return results;
  },
};
