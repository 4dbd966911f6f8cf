// How many inserts ClickHouse itself saw, read from the engine's own bookkeeping while the
// service holds the engine. Every INSERT into a MergeTree table is given a new block number per
// part it writes (one part per partition it touches), and the part's directory is named
// `<partition>_<minBlock>_<maxBlock>_<level>[_<mutation>]`. The highest block number among a
// table's part directories is therefore the number of parts inserts have created so far, and its
// growth over a window is the window's new parts: what ClickHouse's "about one insert per second
// per table" guidance is about. Merges do not allocate block numbers, so they do not count.
//
// chDB 3.4 (ClickHouse 26.7) embedded has no system log tables (no system.part_log or
// system.query_log: no server config declares them), and libchdb binds one data directory per
// process, so during the run the directory listing is the one view of the engine we have. Once
// the service has stopped, an engine worker opens the directory and confirms the figures from
// system.parts (storage.engine.ts: insertParts).
import fs from 'node:fs';
import path from 'node:path';

const PART = /_(\d+)_(\d+)_(\d+)(?:_(\d+))?$/;

/** Highest block number among the part directories of `table` (0: no part yet). */
export function maxBlockNumber(enginePath: string, database: string, table: string): number {
  // Atomic databases keep data in store/<uuid>/, with data/<db>/<table> as a symlink to it.
  const dir = path.join(enginePath, 'data', database, table);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return 0;
  }
  let max = 0;
  for (const n of names) {
    if (n.startsWith('tmp') || n.startsWith('delete_tmp') || n === 'detached') continue;
    const m = PART.exec(n);
    if (m) max = Math.max(max, Number(m[2]));
  }
  return max;
}

/** Every table of `database` that has a data directory (MergeTree family), by name. */
export function tablesWithParts(enginePath: string, database: string): string[] {
  try {
    return fs.readdirSync(path.join(enginePath, 'data', database)).sort();
  } catch {
    return [];
  }
}

export interface PartSample {
  /** ms since the watcher started. */
  t: number;
  blocks: Record<string, number>;
}

export interface PartRates {
  seconds: number;
  /** New parts (block numbers) per table over the window. */
  parts: Record<string, number>;
  /** The table's mean new parts per second over the window. */
  perSecond(table: string): number;
  /** The most new parts of `table` seen in any one sampling interval, per second of it. */
  peakPerSecond(table: string): number;
  /** Block numbers at the start and end of the window (for the engine's cross-check). */
  first: Record<string, number>;
  last: Record<string, number>;
}

/** Samples the block numbers of every table of `database` every `intervalMs` until stop(). */
export class PartWatcher {
  private samples: PartSample[] = [];
  private timer: NodeJS.Timeout;
  private readonly t0 = performance.now();

  constructor(private readonly enginePath: string, private readonly database: string, intervalMs = 1000) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    const blocks: Record<string, number> = {};
    for (const t of tablesWithParts(this.enginePath, this.database)) blocks[t] = maxBlockNumber(this.enginePath, this.database, t);
    this.samples.push({ t: performance.now() - this.t0, blocks });
  }

  stop(): PartRates {
    clearInterval(this.timer);
    this.sample();
    const first = this.samples[0]!;
    const last = this.samples.at(-1)!;
    const seconds = (last.t - first.t) / 1000;
    const parts: Record<string, number> = {};
    for (const t of Object.keys(last.blocks)) parts[t] = last.blocks[t]! - (first.blocks[t] ?? 0);
    const samples = this.samples;
    return {
      seconds,
      parts,
      first: first.blocks,
      last: last.blocks,
      perSecond: (table) => (seconds > 0 ? (parts[table] ?? 0) / seconds : 0),
      peakPerSecond(table) {
        let peak = 0;
        for (let i = 1; i < samples.length; i++) {
          const dt = (samples[i]!.t - samples[i - 1]!.t) / 1000;
          // Intervals shorter than half a second (the final sample) would inflate the rate.
          if (dt < 0.5) continue;
          peak = Math.max(peak, ((samples[i]!.blocks[table] ?? 0) - (samples[i - 1]!.blocks[table] ?? 0)) / dt);
        }
        return peak;
      },
    };
  }
}
