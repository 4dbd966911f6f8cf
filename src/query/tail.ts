// The in-process tail of stored events: for a (tenant, filters without since/until) the reads ask
// for, a "complete suffix": every matching stored row at or after a horizon (timestamp, id),
// newest first, loaded by one store query on first use. An embedded chDB query costs ~10 ms of
// CPU whatever its size; a page answered from here costs microseconds (BENCHMARKS.md, read path).
//
// Exact, not approximate:
// - Inserts: the writer calls stored() with the rows each insert stored (after de-duplication),
//   before the drainer drops them from the pending rows that reads merge, so a row is always in
//   one of the two. A load registers before its query runs and merges the rows stored meanwhile,
//   so a row that lands during a load is neither lost nor doubled. A failed insert (whether it
//   landed is unknown) drops everything.
// - Mutations (erasure, retention deletes): the store's MutationGate closes caches and drops
//   them before the mutation starts, until it has finished; loads that spanned one are discarded.
// - TTL deletes (archiving off) happen in merges at times nobody knows: a page that holds a row
//   within EXPIRY_MARGIN_MS of its expiry is answered by the store, so memory and store agree.
// - A page is answered only when it is provably complete: `limit` rows inside the suffix, or the
//   suffix reaches past `since`, or it holds every matching row; else the store answers.
// Several instances: only this process's inserts and mutations are seen, and nothing in the data
// says another instance wrote or erased (its rows would be missing from pages held here, its
// erasure would not reach them). So it is valid only where this process is the only writer of the
// data: embedded mode, by construction (one process per engine directory). With CLICKHOUSE_URL it
// is off unless AUDIT_READ_CACHE_MB is set for a single-instance deployment (src/config.ts);
// off, every read goes to the engine through the same code. README "Read path" says the same.
//
// Memory: every held row is counted (an estimate of its JS size) against one budget shared with
// the id map (src/query/tail-ids.ts); least recently used suffixes go first.
//
// This file: the cache's API and its bookkeeping (loads, merges, budget); a suffix, its rows and
// answering a page from one are in src/query/tail-suffix.ts.
import type { AuditEvent, EventRow } from '../event/model.ts';
import type { MutationGate } from '../store/mutation-gate.ts';
import { eventFromRow } from '../store/activity-rows.ts';
import { getRow, queryRows, type ActivityFilters, type Cursor } from '../store/activities.ts';
import type { Store } from '../store/client.ts';
import { matches, newerFirst } from './pending-reads.ts';
import { EventsById } from './tail-ids.ts';
import { answerPage, baseFilters, cachedRow, firstOlder, type CachedRow, type Suffix } from './tail-suffix.ts';

export interface TailOptions {
  /** Estimated bytes all suffixes and the id map may hold together. */
  budgetBytes: number;
  /** Rows a suffix loads at first use; each extension loads as many as it holds (doubling). */
  loadRows?: number;
  /** Most rows one suffix holds: pages deeper than that are read from the store. */
  maxSuffixRows?: number;
  /** Epoch ms from which the store may delete the row by itself (TTL); undefined: never. */
  expiresAt?: ((row: EventRow) => number) | undefined;
}

export class TailCache {
  private readonly suffixes = new Map<string, Suffix>(); // LRU: oldest use first
  private readonly byTenant = new Map<string, Set<Suffix>>();
  private readonly loads = new Map<string, Promise<Suffix | undefined>>();
  readonly ids: EventsById;
  private bytes = 0;
  /** Bumped whenever everything is dropped: loads started before are discarded. */
  private generation = 0;
  private readonly loadRows: number;
  private readonly maxRows: number;
  readonly stats = { hits: 0, misses: 0, loads: 0 };

  constructor(private readonly store: Store, private readonly opts: TailOptions) {
    this.loadRows = opts.loadRows ?? 250;
    this.maxRows = Math.max(this.loadRows, opts.maxSuffixRows ?? 10_000);
    this.ids = new EventsById(Math.floor(opts.budgetBytes / 4), opts.expiresAt);
    store.gate.onBegin(() => this.clear());
  }

  /** Estimated bytes held (suffixes and id map). */
  get heldBytes(): number {
    return this.bytes + this.ids.bytes;
  }

  /** Drops everything (a mutation begins, an insert failed). */
  clear(): void {
    this.generation++;
    for (const s of this.suffixes.values()) s.dropped = true;
    this.suffixes.clear();
    this.byTenant.clear();
    this.loads.clear();
    this.bytes = 0;
    this.ids.clear();
  }

  /** The writer stored these rows (fresh ones only): every suffix they match takes them. */
  stored(rows: readonly EventRow[]): void {
    if (!this.store.gate.open) return; // dropped at the gate; nothing may load until it opens
    for (const row of rows) {
      const c = cachedRow(row);
      this.ids.put(c);
      const held = this.byTenant.get(row.tenant_id);
      if (held) for (const s of held) if (matches(row, s.filters)) this.add(s, c);
    }
    this.enforceBudget();
  }

  /**
   * A page (newest first, like listEvents) from memory, loading the suffix on first use; undefined
   * when memory cannot prove it complete (the caller reads the store).
   */
  async page(tenant: string, filters: ActivityFilters, limit: number, cursor?: Cursor): Promise<AuditEvent[] | undefined> {
    if (!this.store.gate.open || limit <= 0) return undefined;
    const base = baseFilters(filters);
    const id = `${tenant}\u0000${JSON.stringify(base)}`;
    let s = this.suffixes.get(id);
    if (s) {
      this.suffixes.delete(id); // most recently used goes last
      this.suffixes.set(id, s);
    } else {
      s = await this.load(id, tenant, base);
      if (!s) return undefined;
    }
    let found = answerPage(s, filters, limit, cursor, this.opts.expiresAt);
    if (found === 'short' && s.rows.length < this.maxRows && !s.loading) {
      await this.extend(s);
      found = s.dropped ? 'short' : answerPage(s, filters, limit, cursor, this.opts.expiresAt);
    }
    if (typeof found === 'string' || s.dropped) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    return found.map((c) => (c.event ??= eventFromRow(c.row)));
  }

  /** A stored event by id: from memory (written or read lately), else from the store, remembered. */
  async event(tenant: string, id: string): Promise<AuditEvent | undefined> {
    const held = this.store.gate.open ? this.ids.get(tenant, id) : undefined;
    if (held) {
      this.stats.hits++;
      return held;
    }
    this.stats.misses++;
    const generation = this.generation;
    const epoch = this.store.gate.epoch;
    const row = await getRow(this.store, tenant, id);
    if (!row) return undefined;
    const c = cachedRow(row);
    // Remembered only when no mutation began meanwhile (the row may predate it).
    if (generation === this.generation && epoch === this.store.gate.epoch && this.store.gate.open) this.ids.put(c);
    return (c.event = eventFromRow(row));
  }

  private load(id: string, tenant: string, filters: ActivityFilters): Promise<Suffix | undefined> {
    let p = this.loads.get(id);
    if (!p) {
      const s: Suffix = { id, tenant, filters, rows: [], complete: false, bytes: 0, loading: [], loaded: false, dropped: false };
      p = this.fill(s, undefined).then((ok) => {
        if (this.loads.get(id) === p) this.loads.delete(id);
        return ok ? s : undefined;
      });
      this.loads.set(id, p);
      let held = this.byTenant.get(tenant);
      if (!held) this.byTenant.set(tenant, (held = new Set()));
      held.add(s); // before the query runs: stored() buffers what lands meanwhile
    }
    return p;
  }

  /** One more chunk below the horizon, for a page that reaches past it. */
  private async extend(s: Suffix): Promise<void> {
    s.loading = [];
    const last = s.rows.at(-1)!;
    await this.fill(s, { ts: last.ts, id: last.row.id });
  }

  /** Runs a load (below `after`, or from the top) and merges what was stored meanwhile. */
  private async fill(s: Suffix, after: Cursor | undefined): Promise<boolean> {
    const generation = this.generation;
    const epoch = this.store.gate.epoch;
    this.stats.loads++;
    // Sparse filters (one user) reach far back for few rows: start small, double on demand.
    const want = Math.min(this.maxRows - s.rows.length, Math.max(this.loadRows, s.rows.length));
    let rows: EventRow[];
    try {
      rows = await queryRows(this.store, s.tenant, s.filters, want + 1, after);
    } catch {
      rows = [];
      s.dropped = true; // the store answers this read, and says why
    }
    if (s.dropped || generation !== this.generation || epoch !== this.store.gate.epoch || !this.store.gate.open) {
      this.remove(s);
      return false;
    }
    const meanwhile = s.loading ?? [];
    s.loading = undefined;
    s.complete = rows.length <= want;
    for (const row of rows.slice(0, want)) {
      const c = cachedRow(row);
      s.rows.push(c);
      s.bytes += c.bytes;
      this.bytes += c.bytes;
      this.ids.put(c);
    }
    if (!s.loaded) {
      s.loaded = true;
      this.suffixes.set(s.id, s);
    }
    for (const c of meanwhile) this.add(s, c);
    this.trim(s);
    this.enforceBudget();
    return !s.dropped;
  }

  /** Adds a stored row to a suffix: in place when at or above the horizon, else not needed. */
  private add(s: Suffix, c: CachedRow): void {
    if (!s.loaded) {
      s.loading!.push(c);
      return;
    }
    const last = s.rows.at(-1);
    if (!s.complete && last && newerFirst(c, last) > 0) {
      s.loading?.push(c); // below the horizon; an extension in flight may need it
      return;
    }
    const i = firstOlder(s.rows, c);
    if (i > 0 && s.rows[i - 1]!.row.id === c.row.id) return; // the load returned it already
    s.rows.splice(i, 0, c);
    s.bytes += c.bytes;
    this.bytes += c.bytes;
    this.trim(s);
  }

  /** Keeps a suffix within maxSuffixRows by raising its horizon (still complete above it). */
  private trim(s: Suffix, to = this.maxRows): void {
    if (s.rows.length <= to) return;
    for (const c of s.rows.splice(to)) {
      s.bytes -= c.bytes;
      this.bytes -= c.bytes;
    }
    s.complete = false;
  }

  private remove(s: Suffix): void {
    s.dropped = true;
    if (this.suffixes.get(s.id) === s) {
      this.suffixes.delete(s.id);
      this.bytes -= s.bytes;
    }
    const held = this.byTenant.get(s.tenant);
    held?.delete(s);
    if (held?.size === 0) this.byTenant.delete(s.tenant);
  }

  private enforceBudget(): void {
    const budget = this.opts.budgetBytes - this.ids.bytes;
    for (const s of this.suffixes.values()) {
      if (this.bytes <= budget) break;
      if (s.loading) continue; // its load is about to merge; the next pass takes it
      this.remove(s);
    }
  }
}
