// §9 OTLP and sinks: events/s through POST /v1/logs (OTLP/HTTP protobuf, 1,000 log records per
// request) against the native endpoint (JSON arrays of the same 1,000 events), same service,
// same connections, alternating rounds in one run; and how fast a webhook sink delivers a
// backlog (events stored while its receiver answered 503, then delivered once it answers 200).
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { BenchContext, BenchSection } from '../lib/context.ts';
import { generateEvents, type WireEvent } from '../lib/corpus.ts';
import { postBodies } from '../lib/http-load.ts';
import type { ResultRow } from '../lib/report.ts';
import { ServiceProcess } from '../lib/service.ts';
import { fmt, median } from '../lib/stats.ts';

interface MessageClass { encode(m: object): { finish(): Uint8Array }; fromObject(o: object): object }
const otlp = (createRequire(import.meta.url)('@opentelemetry/otlp-transformer/build/src/generated/root.js') as {
  opentelemetry: { proto: { collector: { logs: { v1: { ExportLogsServiceRequest: MessageClass } } } } };
}).opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest;

const SEVERITY_NUMBER: Record<string, number> = { LOW: 9, MEDIUM: 13, HIGH: 17, CRITICAL: 21 };
const value = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? { intValue: v } : typeof v === 'number' ? { doubleValue: v } : typeof v === 'boolean' ? { boolValue: v } : { stringValue: typeof v === 'string' ? v : JSON.stringify(v) });

/** The same events as OTLP log records (audit.id keeps the ids equal to the native side's). */
function otlpBody(events: WireEvent[]): Buffer {
  const attrs = (e: WireEvent) => Object.entries({
    'audit.id': e.id, 'audit.action': e.action, 'user.id': e.user_id, 'audit.resource.type': e.resource_type, 'audit.resource.id': e.resource_id,
    'audit.outcome': e.outcome, 'client.address': e.ip_address, 'user_agent.original': e.user_agent, ...e.details,
  }).map(([key, v]) => ({ key, value: value(v) }));
  const req = {
    resourceLogs: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bench' } }] },
      scopeLogs: [{
        scope: { name: 'bench.audit' },
        logRecords: events.map((e) => ({
          timeUnixNano: String(BigInt(Date.parse(e.timestamp)) * 1_000_000n), eventName: e.activity_type,
          severityNumber: SEVERITY_NUMBER[e.severity], body: { stringValue: e.description }, attributes: attrs(e),
        })),
      }],
    }],
  };
  return Buffer.from(otlp.encode(otlp.fromObject(req)).finish());
}

const nativeBody = (events: WireEvent[]) => Buffer.from(JSON.stringify(events.map(({ tenant_id: _t, ...e }) => e)));

async function ingestRounds(ctx: BenchContext): Promise<{ otlp: number[]; native: number[] }> {
  // A service of its own: the shared one of §1–2 is stopped by the time this section runs.
  const svc = await ServiceProcess.start({ dataDir: path.join(ctx.root, 'service-otlp') });
  try {
    return await rounds(ctx, svc);
  } finally {
    await svc.stop();
  }
}

async function rounds(ctx: BenchContext, svc: ServiceProcess): Promise<{ otlp: number[]; native: number[] }> {
  const o = ctx.opts.ingest;
  const token = await svc.token({ tenant: 'tenant-otlp', scope: 'audit:write' });
  const out = { otlp: [] as number[], native: [] as number[] };
  for (let round = 0; round < o.rounds; round++) {
    const chunks = (seed: number) => {
      const events = generateEvents(o.eventsPerRound, seed, ctx.nowMs);
      const c: WireEvent[][] = [];
      for (let i = 0; i < events.length; i += o.batch) c.push(events.slice(i, i + o.batch));
      return c;
    };
    const otlpBodies = chunks(9000 + round).map(otlpBody);
    const nativeBodies = chunks(9500 + round).map(nativeBody);
    const runOtlp = async () => {
      const r = await postBodies(svc.url, token, otlpBodies, o.connections, 'application/x-protobuf', { path: '/v1/logs', okStatus: 200 });
      if (r.failures) throw new Error(`OTLP: ${r.failures} failed; first: ${r.firstFailure}`);
      out.otlp.push((o.eventsPerRound / r.ms) * 1000);
    };
    const runNative = async () => {
      const r = await postBodies(svc.url, token, nativeBodies, o.connections);
      if (r.failures) throw new Error(`native: ${r.failures} failed; first: ${r.firstFailure}`);
      out.native.push((o.eventsPerRound / r.ms) * 1000);
    };
    if (round % 2 === 0) { await runOtlp(); await runNative(); } else { await runNative(); await runOtlp(); }
    ctx.log(`  round ${round + 1}/${o.rounds}: OTLP ${fmt(out.otlp.at(-1))}/s, native ${fmt(out.native.at(-1))}/s`);
  }
  return out;
}

/** A webhook receiver that refuses (503) until opened, then counts the events it takes. */
async function receiver() {
  let open = false;
  let events = 0;
  let lastAt = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!open) return res.writeHead(503, { 'Retry-After': '1' }).end();
      events += (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown[]).length;
      lastAt = performance.now();
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    open: () => { open = true; },
    get events() { return events; },
    get lastAt() { return lastAt; },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

async function sinkDelivery(ctx: BenchContext, count: number): Promise<{ rate: number; ms: number }> {
  const rx = await receiver();
  const dir = path.join(ctx.root, 'service-sinks');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'sinks.yaml');
  fs.writeFileSync(file, `sinks:\n  - { name: bench, type: webhook, url: "${rx.url}", format: ocsf, batch: { max_events: 500, max_wait_ms: 100 }, retry: { initial_ms: 100, max_ms: 1000 } }\n`);
  const svc = await ServiceProcess.start({ dataDir: dir, env: { AUDIT_SINKS_FILE: file } });
  try {
    const token = await svc.token({ tenant: 'tenant-sink', scope: 'audit:write' });
    const events = generateEvents(count, 9900, ctx.nowMs);
    const bodies: Buffer[] = [];
    for (let i = 0; i < events.length; i += 1000) bodies.push(nativeBody(events.slice(i, i + 1000)));
    const posted = await postBodies(svc.url, token, bodies, 4);
    if (posted.failures) throw new Error(`posting the backlog: ${posted.failures} failed; first: ${posted.firstFailure}`);
    await new Promise((r) => setTimeout(r, 1500)); // the sink is retrying its first batch by now
    const start = performance.now();
    rx.open();
    const deadline = Date.now() + 300_000;
    while (rx.events < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (rx.events < count) throw new Error(`sink delivered ${rx.events} of ${count} events in 5 minutes`);
    const ms = rx.lastAt - start;
    return { rate: (count / ms) * 1000, ms };
  } finally {
    await svc.stop();
    await rx.close();
  }
}

export const otlpSection: BenchSection = {
  ids: ['9'],
  title: 'OTLP ingest and sink delivery',
  async run(ctx) {
    const o = ctx.opts.ingest;
    const r = await ingestRounds(ctx);
    const sinkCount = ctx.opts.mode === 'quick' ? 20_000 : 100_000;
    const sink = await sinkDelivery(ctx, sinkCount);
    ctx.log(`  sink: ${fmt(sink.rate)} events/s (${fmt(sinkCount, 0)} events in ${fmt(sink.ms, 0)} ms)`);
    const otlpRate = median(r.otlp);
    const nativeRate = median(r.native);
    const rows: ResultRow[] = [
      { section: '9', measure: `OTLP/HTTP protobuf ingest, ${fmt(o.batch, 0)} log records per request, ${o.connections} connections (events/s) vs native JSON arrays, same events`, value: fmt(otlpRate, 0), peer: fmt(nativeRate, 0), ratio: `${fmt(otlpRate / nativeRate, 2)}×` },
      { section: '9', measure: 'Webhook sink (OCSF, batches of 500) delivering a stored backlog to a loopback receiver (events/s)', value: fmt(sink.rate, 0) },
    ];
    return [{
      id: '9',
      title: this.title,
      rows,
      notes: [
        `${o.rounds} round(s) of ${fmt(o.eventsPerRound, 0)} events each side, alternating which goes first, medians; rounds: OTLP ${r.otlp.map((x) => fmt(x, 0)).join(', ')}; native ${r.native.map((x) => fmt(x, 0)).join(', ')} events/s. Both write the same kind of event through the same writer; OTLP adds protobuf decoding and the mapping.`,
        `Sink: ${fmt(sinkCount, 0)} events stored while the receiver answered 503, then timed from opening the receiver to the last event it took; the receiver runs in the bench process and parses every batch.`,
      ],
      data: { otlp: r.otlp, native: r.native, sink },
    }];
  },
};
