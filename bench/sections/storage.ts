// §5 Storage, rows as the service writes them: the corpus posted through the real service
// (default settings, JSON arrays of 1,000 over a few connections), waited for until all of it is
// in ClickHouse (a write path that acknowledges from a local log stores later than its 202), the
// service stopped, its engine directory opened in a worker, every table merged (OPTIMIZE …
// FINAL), and the bytes on disk per event read from system.parts: audit_activities with every
// column the service fills (integrity chains, MACs), and each other table the service writes
// (the materialized views' targets, integrity_*). The generated data set of §3 is measured too
// (queries.ts), but its rows are made inside the engine without those columns.
import path from 'node:path';
import type { BenchSection } from '../lib/context.ts';
import { generateEvents } from '../lib/corpus.ts';
import { postBodies } from '../lib/http-load.ts';
import { PartWatcher } from '../lib/parts.ts';
import type { ResultRow } from '../lib/report.ts';
import { describeStop, waitUntilStored } from '../lib/service.ts';
import { fmt } from '../lib/stats.ts';
import type { ServiceStorage, TableStorage } from './storage.engine.ts';

const MAIN = 'audit_activities';
const scaleName = (n: number) => (n >= 1e6 ? `${fmt(n / 1e6, n % 1e6 ? 1 : 0)}M` : `${fmt(n / 1e3, 0)}k`);

/**
 * The corpus as bodies of `batch` events, built as they are posted (a million events do not fit
 * comfortably in memory as objects). History-shaped: timestamps over the last 90 days, like the
 * generated data set, so the two differ only in what the service fills in; a 90-day trail is
 * what the default retention keeps on disk. received_at is the service's own (the posting time).
 */
function* corpusBodies(total: number, batch: number, nowMs: number): Generator<Buffer> {
  const chunk = 20 * batch;
  for (let start = 0, seed = 50_000; start < total; start += chunk, seed++) {
    const events = generateEvents(Math.min(chunk, total - start), seed, nowMs, 'history');
    for (let i = 0; i < events.length; i += batch) yield Buffer.from(JSON.stringify(events.slice(i, i + batch)));
  }
}

function tableLabel(t: TableStorage): string {
  if (t.fedBy) return `${t.table} (${t.engine}, target of materialized view ${t.fedBy})`;
  return `${t.table} (${t.engine})`;
}

function details(st: ServiceStorage): string {
  const per = (b: number) => fmt(b / st.events, 2);
  const main = st.tables.find((t) => t.table === MAIN)!;
  const other = main.onDisk - main.columnsCompressed - main.marks - main.primaryIndex - main.skipIndexes;
  const lines = [
    `${MAIN} at ${scaleName(st.events)} events as the service wrote them, merged (${main.parts} active parts): ` +
      `columns ${per(main.columnsCompressed)}, marks ${per(main.marks)}, primary index ${per(main.primaryIndex)}, ` +
      `skip indexes ${per(main.skipIndexes)}, other files (checksums, column lists, counts) ${per(other)} B/event.`,
    ...(st.wideCopyBytes !== undefined
      ? ['', `Its parts are in compact format (one file for all columns, no per-column sizes), so the columns below are measured on a copy of the same rows in wide parts (${per(st.wideCopyBytes)} B/event in all).`]
      : []),
    '',
    '| column (type) | B/event compressed | uncompressed | marks |',
    '|---|---:|---:|---:|',
    ...st.columns.map((c) => `| ${c.name} (${c.type.replace(/\|/g, '\\|')}) | ${per(c.compressed)} | ${fmt(c.uncompressed / st.events, 1)} | ${per(c.marks)} |`),
    '',
    '| skip index (type: expression) | B/event | marks |',
    '|---|---:|---:|',
    ...st.indexes.map((i) => `| ${i.name} (${i.type}: \`${i.expr}\`) | ${per(i.compressed)} | ${per(i.marks)} |`),
    '',
    '| table | rows | parts | B/event on disk |',
    '|---|---:|---:|---:|',
    ...st.tables.filter((t) => t.rows > 0).map((t) => `| ${tableLabel(t)} | ${fmt(t.rows, 0)} | ${t.parts} | ${per(t.onDisk)} |`),
  ];
  return lines.join('\n');
}

export const storageSection: BenchSection = {
  ids: ['5'],
  title: 'Storage: rows as the service writes them',
  async run(ctx) {
    const o = ctx.opts.storage;
    const svc = await ctx.startService('service-storage');
    // Which tables the service writes because of the events (not at start-up, like its migration
    // bookkeeping): those whose block numbers grow between now and its exit.
    const watcher = new PartWatcher(svc.enginePath, 'audit', 5_000);
    const token = await svc.token();
    ctx.log(`  posting ${fmt(o.events, 0)} events (arrays of ${fmt(o.batch, 0)}, ${o.connections} connections)`);
    const r = await postBodies(svc.url, token, corpusBodies(o.events, o.batch, ctx.nowMs), o.connections);
    if (r.failures > 0) throw new Error(`storage run: ${r.failures} of ${r.requests} posts failed; first: ${r.firstFailure}`);
    const waitMs = await waitUntilStored(svc, o.events, { timeoutMs: 600_000, pollMs: 100 });
    ctx.log(`  acknowledged in ${fmt(r.ms / 1000, 1)} s, all stored ${fmt(waitMs / 1000, 1)} s later`);
    ctx.log(`  ${describeStop('storage service', await svc.stop(), ctx.opts.profile)}`);
    const written = new Set(Object.entries(watcher.stop().parts).filter(([, n]) => n > 0).map(([t]) => t));

    // The engine as the service left it, in a process of its own (one data directory per process).
    const w = await ctx.engine('service-storage', svc.dataDir);
    const st = await w.call<ServiceStorage>('serviceStorage', { database: 'audit' });
    await w.stop();
    ctx.log(`  merged in ${fmt(st.mergeMs / 1000, 0)} s`);

    const n = st.events;
    const scale = scaleName(o.events);
    const main = st.tables.find((t) => t.table === MAIN);
    if (!main) throw new Error(`no ${MAIN} table in the service's database`);
    const perEvent = main.onDisk / n;
    const judged = o.events >= 1_000_000;
    const perEventTables = st.tables.filter((t) => written.has(t.table) && t.onDisk > 0);
    const total = perEventTables.reduce((s, t) => s + t.onDisk, 0);
    const plural = (k: number, what: string) => `${fmt(k, 0)} ${what}${k === 1 ? '' : 's'}`;
    const rows: ResultRow[] = [
      {
        section: '5',
        measure: `bytes per event on disk, rows as the service writes them (posted over HTTP) @ ${scale}, merged (${MAIN}: columns, marks, indexes)`,
        value: fmt(perEvent, 1),
        target: '≤ 70 B',
        met: judged ? perEvent <= 70 && n === o.events : undefined,
      },
      ...perEventTables.filter((t) => t.table !== MAIN).map((t): ResultRow => ({
        section: '5',
        measure: `… plus ${tableLabel(t)}, per event (${plural(t.rows, 'row')})`,
        value: fmt(t.onDisk / n, 2),
      })),
      { section: '5', measure: `everything the service stored for these events, per event (${plural(perEventTables.length, 'table')})`, value: fmt(total / n, 1) },
      {
        section: '5',
        measure: `compression vs NDJSON, rows as the service writes them @ ${scale} (${fmt(st.ndjson / n, 0)} B/event as the API's NDJSON)`,
        value: `${fmt(st.ndjson / main.onDisk, 1)}×`,
      },
    ];
    const notes = [
      `Service-written rows: ${fmt(o.events, 0)} corpus events (timestamps over the last 90 days, like the generated set; ids from the client) posted as JSON arrays of ${fmt(o.batch, 0)} over ${o.connections} connections to the service with default settings; acknowledged in ${fmt(r.ms / 1000, 1)} s (${fmt((o.events / r.ms) * 1000, 0)} events/s), all stored ${fmt(waitMs / 1000, 1)} s after the last 202 (audit_spool_events 0, audit_activities_total reached).`,
      `Then the service was stopped (SIGTERM), its engine directory opened in a worker, every MergeTree table merged (OPTIMIZE … FINAL, ${fmt(st.mergeMs / 1000, 0)} s), sizes from system.parts / system.parts_columns / system.data_skipping_indices; the engine counted ${fmt(n, 0)} rows in ${MAIN}${n === o.events ? '' : ` (**${fmt(o.events, 0)} were posted**)`}.`,
      `Tables counted: those the service wrote while storing the events (their block numbers grew between its start and its exit); not counted, written at start-up only: ${st.tables.filter((t) => !written.has(t.table) && t.rows > 0).map((t) => t.table).join(', ') || 'none'}.`,
      ...(judged ? [] : [`The target is judged at 1M events; this run posted ${scale}, so "Met" is left empty.`]),
    ];
    return [{
      id: '5',
      title: this.title,
      rows,
      notes,
      details: details(st),
      data: { posted: o.events, ackMs: r.ms, storedWaitMs: waitMs, storage: st, dataDir: path.basename(svc.dataDir) },
    }];
  },
};
