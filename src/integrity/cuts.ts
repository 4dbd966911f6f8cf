// Retention cuts: how a deletion by the retention job stays distinguishable from tampering.
//
// Retention deletes by severity and age, so it removes links from the middle of chains, not just
// a prefix. Before deleting, the job records each run of consecutive links it is about to delete
// as one cut (tenant, stream, first_seq, last_seq, the prev_hash of the first link, the hash of
// the last one), MAC-ed with the integrity key. The verifier bridges a gap only with cuts whose
// MAC verifies and whose edge hashes link up with the links on both sides, so a deletion the
// retention job recorded verifies and any other missing link is reported as deleted.
// Storage: one cut per run of deleted links, at most one per remaining link plus one per chain.
import type { Store, QueryParams } from '../store/client.ts';
import { chainLinks, deleteActivities, type ChainLink } from '../store/chain-rows.ts';
import { toChTime } from '../event/model.ts';
import { uuidv7 } from '../event/ids.ts';
import { cutMac, type CutRecord } from './canonical.ts';
import type { MacKeys } from './keys.ts';

const CUT_COLUMNS = ['tenant_id', 'stream', 'first_seq', 'last_seq', 'prev_hash', 'last_hash', 'run_id', 'created_at', 'mac'] as const;
const FLUSH_EVERY = 10_000;
/**
 * Archiving off, ClickHouse's TTL deletes in any merge, unseen: rows due within this horizon are
 * recorded as cuts ahead of time (when stored, and by each retention run), so they are bridged
 * whenever the TTL takes them. Longer than the retention job's daily schedule.
 */
export const TTL_CUT_HORIZON_MS = 2 * 86_400_000;

/** Turns links about to be deleted, given in (tenant, stream, seq) order, into cut records. */
export class RetentionCutRecorder {
  private open: CutRecord | undefined;
  private buffer: unknown[][] = [];
  readonly runId: string;
  cuts = 0;
  links = 0;

  constructor(private readonly store: Store, private readonly keys: MacKeys, runId?: string) {
    this.runId = runId ?? uuidv7();
  }

  async add(l: ChainLink): Promise<void> {
    if (l.stream === '') return; // rows from before chains existed: nothing to bridge
    this.links++;
    const o = this.open;
    if (o && o.tenant_id === l.tenant_id && o.stream === l.stream && l.seq === o.last_seq + 1) {
      o.last_seq = l.seq;
      o.last_hash = l.hash;
      return;
    }
    if (o && o.tenant_id === l.tenant_id && o.stream === l.stream && l.seq <= o.last_seq) {
      throw new Error('retention cuts: links must come in (tenant, stream, seq) order');
    }
    this.close();
    this.open = { tenant_id: l.tenant_id, stream: l.stream, first_seq: l.seq, last_seq: l.seq, prev_hash: l.prev_hash, last_hash: l.hash, run_id: this.runId };
    if (this.buffer.length >= FLUSH_EVERY) await this.flush();
  }

  private close(): void {
    const o = this.open;
    if (!o) return;
    this.buffer.push([o.tenant_id, o.stream, o.first_seq, o.last_seq, o.prev_hash, o.last_hash, o.run_id, toChTime(Date.now()), cutMac(this.keys, o)]);
    this.cuts++;
    this.open = undefined;
  }

  private async flush(): Promise<void> {
    const rows = this.buffer;
    this.buffer = [];
    await this.store.insertCompact('integrity_cuts', CUT_COLUMNS, rows, 'retention');
  }

  /** Stores the remaining cuts. Call before deleting the links. */
  async finish(): Promise<{ run_id: string; cuts: number; links: number }> {
    this.close();
    await this.flush();
    return { run_id: this.runId, cuts: this.cuts, links: this.links };
  }
}

/**
 * Records cuts for every chained row matching `where` (a bound condition on audit_activities).
 * The caller must then delete exactly those rows: keep `where` stable between the two (bound it
 * by received_at, so rows arriving meanwhile cannot match).
 */
export async function recordRetentionCuts(store: Store, keys: MacKeys, where: string, params: QueryParams, runId?: string) {
  const recorder = new RetentionCutRecorder(store, keys, runId);
  for await (const links of chainLinks(store, where, params)) for (const l of links) await recorder.add(l);
  return recorder.finish();
}

/**
 * Deletes the rows matching `where` that were stored before now, after recording their cuts:
 * the way retention deletes without breaking verification.
 */
export async function deleteWithCuts(store: Store, keys: MacKeys, where: string, params: QueryParams) {
  const bounded = `(${where}) AND received_at < fromUnixTimestamp64Milli({cut_before:Int64})`;
  const p = { ...params, cut_before: Date.now() };
  const result = await recordRetentionCuts(store, keys, bounded, p);
  await deleteActivities(store, bounded, p);
  return result;
}
