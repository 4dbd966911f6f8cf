// THE one place rows are written to audit_activities, for fresh and replayed rows alike, in two
// steps the drainer (src/spool/drainer.ts) runs: prepare (which rows are new, de-duplicated by
// (tenant, id), linked into their hash chains) and insert (serialized, in the order the batches
// were prepared). While one batch is inserted, the next is looked up and sealed.
import type { EventRow } from '../event/model.ts';
import type { HashChain, SealedRows } from '../integrity/chain.ts';
import type { Metrics } from '../metrics.ts';
import type { WriteFaults } from '../spool/faults.ts';
import type { WriteResult } from '../spool/pending.ts';
import { insertEvents } from '../store/activity-rows.ts';
import { eventKey, existingKeys } from '../store/activities.ts';
import type { Store } from '../store/client.ts';

/** A batch ready to insert: what is new, and (with hash chains) sealed. */
export interface PreparedRows {
  all: EventRow[];
  rows: EventRow[];
  keys: Set<string>;
  results: WriteResult[];
  sealed: SealedRows | undefined;
}

/**
 * Told of the rows each insert stores (fresh ones, after de-duplication): storing() just before
 * the insert is sent, stored() once it returned, clear() when it failed (landed or not: unknown).
 * The engine may show the rows to a concurrent read before stored() runs (the insert's answer
 * and the read's race back into JS): a cache that cannot take a row twice uses storing().
 */
export interface StoredRowsListener {
  storing?(rows: readonly EventRow[]): void;
  stored(rows: readonly EventRow[]): void;
  clear(): void;
}

export class InsertStep {
  /**
   * Pending rows an insert has been sent for: judged new by the de-duplication, so none repeats
   * a stored event, even when the store already shows it (the table's part is visible before the
   * insert returns: its views are still being filled). Reads keep these (src/query/pending-reads.ts).
   */
  private readonly sent = new WeakSet<EventRow>();

  constructor(
    private readonly store: Store,
    private readonly chain: HashChain | undefined,
    private readonly listeners: readonly StoredRowsListener[],
    private readonly metrics?: Metrics,
    private readonly faults?: WriteFaults,
  ) {}

  /** Whether an insert was sent for this pending row (it is new: no stored event shares its id). */
  isSent(row: EventRow): boolean {
    return this.sent.has(row);
  }

  /**
   * Step one: which rows are new (de-duplication by (tenant, id)), linked into their hash chains.
   * `after`: the batch being inserted right now (its rows count as stored, its chain heads as
   * current), so the drainer prepares the next batch while the previous one is inserted.
   * `fresh`: rows whose ids were minted here (no lookup).
   */
  async prepare(groups: readonly EventRow[][], fresh: ReadonlySet<EventRow>, after?: PreparedRows): Promise<PreparedRows> {
    const all = groups.flat();
    // A minted id repeated within the batch is still caught below, by the in-batch set.
    const stored = await existingKeys(this.store, fresh.size ? all.filter((r) => !fresh.has(r)) : all);
    for (const k of after?.keys ?? []) stored.add(k);
    const rows: EventRow[] = [];
    const keys = new Set<string>();
    const results = groups.map((group) => {
      let inserted = 0;
      for (const r of group) {
        const key = eventKey(r);
        if (stored.has(key)) continue;
        stored.add(key); // a repeated id later in this batch is a duplicate too
        keys.add(key);
        rows.push(r);
        inserted++;
      }
      return { inserted, duplicates: group.length - inserted, spooled: false };
    });
    const sealed = this.chain ? await this.chain.sealRows(rows, after?.sealed) : undefined;
    return { all, rows, keys, results, sealed };
  }

  /** Step two: the insert (serialized by the drainer, in the order the batches were prepared). */
  async write(p: PreparedRows): Promise<WriteResult[]> {
    await this.faults?.beforeStoreWrite(p.all);
    for (const r of p.rows) this.sent.add(r);
    if (p.rows.length > 0) for (const l of this.listeners) l.storing?.(p.rows);
    try {
      if (p.sealed) await this.chain!.store(p.sealed);
      else await insertEvents(this.store, p.rows);
      await this.faults?.afterStoreWrite(p.all);
    } catch (err) {
      // Whether the rows landed is unknown, and the retry's lookup will skip those that did:
      // the read cache cannot learn of them, so it starts over from the store.
      for (const l of this.listeners) l.clear();
      throw err;
    }
    // Before the drainer drops these rows from the pending rows: a read always finds each in one.
    if (p.rows.length > 0) for (const l of this.listeners) l.stored(p.rows);
    if (this.metrics && p.rows.length > 0) {
      this.metrics.ingestBatchSize.observe(p.rows.length);
      for (const r of p.rows) this.metrics.activitiesTotal.inc({ activity_type: this.metrics.activityTypeLabel(r.activity_type), severity: r.severity });
    }
    return p.results;
  }
}
