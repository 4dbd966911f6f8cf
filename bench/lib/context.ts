// What every section gets: options, a temp root, the shared service of sections 1–2, engine
// workers with data directories of their own, the Postgres peer when there is one, and a place
// to hand figures to later sections (memory peaks, data sets).
import type { EngineWorker } from './engine.ts';
import type { BenchOptions } from './options.ts';
import type { PostgresPeer } from './postgres.ts';
import type { SectionResult } from './report.ts';
import type { ServiceProcess } from './service.ts';

export interface BenchContext {
  opts: BenchOptions;
  /** Temporary root of this run (removed at the end unless --keep). */
  root: string;
  /** bench/out: JSON results and CPU profiles. */
  outDir: string;
  /** "now" of every generated corpus, fixed for the run. */
  nowMs: number;
  log(message: string): void;
  /** The service that sections 1–2 load (started on first use, one per run). */
  service(): Promise<ServiceProcess>;
  /**
   * Another service with a data directory of its own (root/<label>), default settings plus `env`;
   * profiled under --profile, stopped at the end of the run (or on Ctrl-C) if still running.
   */
  startService(label: string, env?: Record<string, string>): Promise<ServiceProcess>;
  /**
   * A started engine worker by name, each with its own data directory under root, or bound to
   * `dataDir` (e.g. a stopped service's, to read what it stored).
   */
  engine(name: string, dataDir?: string): Promise<EngineWorker>;
  /** Stops an engine worker (its directory stays): another process may then open that engine. */
  stopEngine(name: string): Promise<void>;
  postgres: PostgresPeer | undefined;
  /** Why the Postgres peer is not there, when it is not. */
  postgresMissing: string | undefined;
  shared: Record<string, unknown>;
}

export interface BenchSection {
  /** Section ids this module reports (the numbering). */
  ids: string[];
  title: string;
  run(ctx: BenchContext): Promise<SectionResult[]>;
}

export const skipped = (id: string, title: string, reason: string): SectionResult => ({ id, title, rows: [], skipped: `skipped: ${reason}` });
