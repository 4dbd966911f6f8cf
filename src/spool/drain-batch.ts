// What the drainer (src/spool/drainer.ts) inserts: its options (THE one write path, prepare then
// write), a batch (from memory or from the log on disk), when one is due, a batch from memory and
// the look-ahead batch after it, the rows that need no de-duplication lookup, and the record
// after a refused one (to tell a poisoned record from a store that refuses everything).
import type { EventRow } from '../event/model.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { PendingEntry, PendingRows, WriteResult } from './pending.ts';
import type { Spool, SpoolBatch } from './spool.ts';

export interface DrainerOptions<P> {
  spool: Spool | undefined;
  pending: PendingRows;
  /** Events per insert, at most. */
  maxRows: number;
  /** Longest an acknowledged event waits before its insert starts. */
  maxWaitMs: number;
  /**
   * THE one write path, in two steps: prepare (de-duplication, hash chains; `fresh`: rows whose
   * ids need no lookup; `after`: the batch being written now) and write (the insert).
   */
  prepare(groups: EventRow[][], fresh: ReadonlySet<EventRow>, after?: P): Promise<P>;
  write(prepared: P): Promise<WriteResult[]>;
  /** Resolves once the store is migrated and reachable. */
  ready: Promise<void>;
  /** Called whenever the drain state changes (the writer decides what readiness reports). */
  onProgress(): void;
  metrics?: Metrics | undefined;
  log?: Logger | undefined;
}

export interface Batch {
  /** Entries from memory (undefined: the batch was read from the log on disk). */
  entries: PendingEntry[] | undefined;
  spool: SpoolBatch | undefined;
  groups: EventRow[][];
  events: number;
}

/** Whether a batch from memory is due now, else in how many ms: urgent when closing or waited for, or full. */
export function dueIn(opts: Pick<DrainerOptions<unknown>, 'pending' | 'maxRows' | 'maxWaitMs'>, closing: boolean, waiters: number): { now: boolean; inMs: number } {
  const p = opts.pending;
  const oldest = p.oldestAt();
  if (oldest === undefined) return { now: false, inMs: Number.POSITIVE_INFINITY };
  if (closing || p.events >= opts.maxRows || waiters > 0) return { now: true, inMs: 0 };
  const inMs = oldest + opts.maxWaitMs - Date.now();
  return { now: inMs <= 0, inMs };
}

/** A batch of entries from memory, with the log position it commits when there is a log. */
export function memoryBatch(entries: PendingEntry[], spool: Spool | undefined): Batch {
  const groups = entries.map((e) => e.rows);
  const events = groups.reduce((n, g) => n + g.length, 0);
  const end = entries.at(-1)?.end;
  return { entries, groups, events, spool: spool && end ? { groups, events, end } : undefined };
}

/** The batch after `batch` in memory, if it is due already (a full batch waits, or the oldest waited long enough). */
export function aheadBatch(batch: Batch, opts: Pick<DrainerOptions<unknown>, 'pending' | 'maxRows' | 'maxWaitMs' | 'spool'>, closing: boolean): Batch | undefined {
  if (!batch.entries) return undefined;
  const p = opts.pending;
  const skip = batch.entries.length;
  const next = p.at(skip);
  if (!next) return undefined;
  const waiting = p.events - batch.events;
  if (!(closing || waiting >= opts.maxRows || next.at + opts.maxWaitMs <= Date.now())) return undefined;
  return memoryBatch(p.peek(opts.maxRows, Number.POSITIVE_INFINITY, skip), opts.spool);
}

/** Rows minted here and never attempted: their ids need no lookup. */
export function freshRows(batch: Batch): Set<EventRow> {
  const fresh = new Set<EventRow>();
  for (const e of batch.entries ?? []) {
    if (e.attempted || !e.minted) continue;
    e.rows.forEach((r, i) => e.minted![i] && fresh.add(r));
  }
  return fresh;
}

/** The one record after `batch` (from memory, or from the log), undefined when there is none. */
export async function recordAfter(batch: Batch, opts: Pick<DrainerOptions<unknown>, 'pending' | 'maxRows' | 'spool'>): Promise<EventRow[][] | undefined> {
  let groups: EventRow[][] | undefined;
  if (batch.entries) {
    const next = opts.pending.at(batch.entries.length);
    if (next) {
      next.attempted = true; // stored early: its own turn must look its ids up
      groups = [next.rows];
    }
  } else {
    const next = await opts.spool!.read(opts.maxRows, 1, batch.spool!.end);
    groups = next?.groups;
  }
  return groups;
}
