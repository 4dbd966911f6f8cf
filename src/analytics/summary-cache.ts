// The summary in memory, kept exact by the write path: an embedded query over the views costs
// more as a tenant's distinct users and resources grow (30 days of the biggest tenant at 10M
// rows: 73k user-days and 162k resource-days to re-aggregate), whatever the views do. So a
// summary is loaded once per (tenant, days, top, today) in one query (summaryRowsFromViews) and
// then updated by the writer with every row it stores, as the views themselves are:
// - totals, severities, outcomes, days and activity types are sums: updated exactly;
// - top users and top resources are loaded with a margin (EXTRA more than asked) and the count
//   of the last one loaded (everyone not loaded has at most that). Rows of users not loaded only
//   raise an upper bound; while no bound can reach the `top`-th entry the answer is provably the
//   query's, else the summary is loaded again (one query).
// Erasure re-attributes the per-user view and any ALTER runs through the store's MutationGate:
// everything is dropped then. A load that overlapped an insert of its tenant answers its read
// but is not kept: the insert may or may not be in it, and unlike the tail (which de-duplicates
// by id) a count cannot take a row twice. "Overlapped" is judged from storing() (the writer calls
// it before sending the insert) to stored(): an insert in flight when the load starts, or begun
// while it runs, bumps the tenant's version or holds its in-flight count above zero. Same scope as the read cache
// (src/query/tail.ts): only this process's inserts are seen (AUDIT_READ_CACHE_MB).
import type { EventRow } from '../event/model.ts';
import type { Store } from '../store/client.ts';
import {
  assembleSummary, byteOrder, countOrder, MAX_ACTIVITY_TYPES, summaryRowsFromViews, summaryWindow,
  type AuditSummary, type SummaryRequest, type SummaryRows, type SummaryWindow,
} from './summary.ts';

const DAY_MS = 86_400_000;
/** Top users and resources loaded beyond `top`: room for the ranking to move before a reload. */
const EXTRA = 40;
/** Distinct not-loaded users (or resources) tracked per summary before it is dropped instead. */
const MAX_OUTSIDERS = 10_000;
const MAX_ENTRIES = 256;

interface Counts { n: number; failed: number }

/** A ranked list (top users or resources): the loaded part exact, the rest bounded. */
class Ranking {
  readonly listed = new Map<string, Counts>();
  readonly outsiders = new Map<string, number>();
  /** Everyone not listed had at most `floor` when loaded (and ranked after `lastKey` on a tie); -1: everyone is listed. */
  floor = -1;
  lastKey = '';

  constructor(rows: Array<{ key: string; n: number; failed: number }>, complete: boolean, private readonly order: (a: string, b: string) => number) {
    for (const r of rows) this.listed.set(r.key, { n: r.n, failed: r.failed });
    const last = rows.at(-1);
    if (!complete && last) {
      this.floor = last.n;
      this.lastKey = last.key;
    }
  }

  /** false: too many outsiders to track (the summary is dropped). */
  add(key: string, failed: boolean): boolean {
    const c = this.listed.get(key);
    if (c) {
      c.n++;
      if (failed) c.failed++;
    } else if (this.floor < 0) {
      this.listed.set(key, { n: 1, failed: failed ? 1 : 0 });
    } else {
      this.outsiders.set(key, (this.outsiders.get(key) ?? 0) + 1);
      if (this.outsiders.size > MAX_OUTSIDERS) return false;
    }
    return true;
  }

  /** The first `top`, or undefined when an outsider might rank among them. */
  top(top: number): Array<{ key: string } & Counts> | undefined {
    const sorted = [...this.listed].map(([key, c]) => ({ key, ...c })).sort((a, b) => b.n - a.n || this.order(a.key, b.key));
    const first = sorted.slice(0, top);
    if (this.floor < 0 || first.length < top) return this.floor < 0 ? first : undefined;
    const k = first.at(-1)!;
    const before = (n: number, key: string) => k.n > n || (k.n === n && this.order(k.key, key) < 0);
    if (!before(this.floor, this.lastKey)) return undefined;
    for (const [key, d] of this.outsiders) if (!before(this.floor + d, key)) return undefined;
    return first;
  }
}

const resourceKey = (type: string, id: string) => `${type}\u0000${id}`;
const resourceOrder = (a: string, b: string) => {
  const [ta = '', ia = ''] = a.split('\u0000');
  const [tb = '', ib = ''] = b.split('\u0000');
  return byteOrder(ta, tb) || byteOrder(ia, ib);
};

interface Entry {
  req: SummaryRequest;
  w: SummaryWindow;
  fromMs: number;
  untilMs: number;
  days: Map<string, number>;
  types: Map<string, Counts>;
  typesComplete: boolean;
  users: Ranking;
  resources: Ranking;
}

function entryOf(req: SummaryRequest, w: SummaryWindow, rows: SummaryRows): Entry {
  const want = req.top + EXTRA;
  return {
    req, w, fromMs: Number(w.params.from_ms), untilMs: Number(w.params.until_ms),
    days: new Map(rows.bySeverityOutcomeDay.map((r) => [`${r.date}|${r.severity}|${r.outcome}`, Number(r.n)])),
    types: new Map(rows.byType.map((r) => [r.activity_type, { n: Number(r.n), failed: Number(r.failed) }])),
    typesComplete: rows.byType.length < MAX_ACTIVITY_TYPES,
    users: new Ranking(rows.users.map((r) => ({ key: r.user_id, n: Number(r.n), failed: Number(r.failed) })), rows.users.length < want, byteOrder),
    resources: new Ranking(rows.resources.map((r) => ({ key: resourceKey(r.resource_type, r.resource_id), n: Number(r.n), failed: Number(r.failed) })), rows.resources.length < want, resourceOrder),
  };
}

/** Adds one stored row as the views do; false when the entry can no longer be kept exact. */
function apply(e: Entry, r: EventRow): boolean {
  if (r.timestamp < e.fromMs || r.timestamp >= e.untilMs) return true;
  const failed = r.outcome === 'failure';
  const date = new Date(Math.floor(r.timestamp / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
  const k = `${date}|${r.severity}|${r.outcome}`;
  e.days.set(k, (e.days.get(k) ?? 0) + 1);
  const t = e.types.get(r.activity_type);
  if (t) {
    t.n++;
    if (failed) t.failed++;
  } else if (e.typesComplete) e.types.set(r.activity_type, { n: 1, failed: failed ? 1 : 0 });
  else return false;
  if (!e.users.add(r.user_id, failed)) return false;
  return r.resource_id === '' || e.resources.add(resourceKey(r.resource_type, r.resource_id), failed);
}

function rowsOf(e: Entry): SummaryRows | undefined {
  const users = e.users.top(e.req.top);
  const resources = e.resources.top(e.req.top);
  if (!users || !resources) return undefined;
  return {
    bySeverityOutcomeDay: [...e.days].map(([k, n]) => {
      const [date = '', severity = '', outcome = ''] = k.split('|');
      return { date, severity, outcome, n };
    }),
    byType: [...e.types].map(([activity_type, c]) => ({ activity_type, n: c.n, failed: c.failed }))
      .sort(countOrder((r) => r.activity_type)).slice(0, MAX_ACTIVITY_TYPES),
    users: users.map((u) => ({ user_id: u.key, n: u.n, failed: u.failed })),
    resources: resources.map((r) => {
      const [resource_type = '', resource_id = ''] = r.key.split('\u0000');
      return { resource_type, resource_id, n: r.n, failed: r.failed };
    }),
  };
}

export class SummaryCache {
  private readonly entries = new Map<string, Entry>(); // LRU: oldest use first
  /** Bumped per tenant when an insert that holds its rows begins and ends: a load overlapping one is not kept. */
  private readonly versions = new Map<string, number>();
  /** Inserts in flight per tenant (storing() seen, stored() or clear() not yet). */
  private readonly inflight = new Map<string, number>();
  private generation = 0;
  readonly stats = { hits: 0, loads: 0 };

  constructor(private readonly store: Store) {
    store.gate.onBegin(() => this.drop());
  }

  /** Drops every summary held (a mutation begins); loads running now are not kept. */
  private drop(): void {
    this.generation++;
    this.entries.clear();
  }

  /** The writer's insert failed: it may have landed. Inserts are serialized, so none is in flight now. */
  clear(): void {
    this.drop();
    this.inflight.clear();
  }

  private bump(rows: readonly EventRow[], inflight: 1 | -1): Set<string> {
    const tenants = new Set<string>();
    for (const r of rows) tenants.add(r.tenant_id);
    for (const t of tenants) {
      this.versions.set(t, (this.versions.get(t) ?? 0) + 1);
      const n = (this.inflight.get(t) ?? 0) + inflight;
      if (n > 0) this.inflight.set(t, n);
      else this.inflight.delete(t);
    }
    return tenants;
  }

  /** The writer is about to insert these rows. */
  storing(rows: readonly EventRow[]): void {
    this.bump(rows, 1);
  }

  /** The summary, as summarize() computes it from the views. */
  async summarize(req: SummaryRequest): Promise<AuditSummary> {
    const w = summaryWindow(req);
    const key = `${req.tenant}\u0000${req.days}\u0000${req.top}\u0000${w.from}`;
    const held = this.store.gate.open ? this.entries.get(key) : undefined;
    const cached = held && rowsOf(held);
    if (cached) {
      this.entries.delete(key);
      this.entries.set(key, held);
      this.stats.hits++;
      return assembleSummary(req, w, cached);
    }
    this.stats.loads++;
    const generation = this.generation;
    const epoch = this.store.gate.epoch;
    const version = this.versions.get(req.tenant) ?? 0;
    const quiet = !this.inflight.has(req.tenant);
    const rows = await summaryRowsFromViews(this.store, w, EXTRA);
    const answer: SummaryRows = { ...rows, users: rows.users.slice(0, req.top), resources: rows.resources.slice(0, req.top) };
    if (generation === this.generation && epoch === this.store.gate.epoch && this.store.gate.open && quiet && version === (this.versions.get(req.tenant) ?? 0)) {
      this.entries.delete(key);
      this.entries.set(key, entryOf(req, w, rows));
      for (const k of this.entries.keys()) {
        if (this.entries.size <= MAX_ENTRIES) break;
        this.entries.delete(k);
      }
    }
    return assembleSummary(req, w, answer);
  }

  /** The writer stored these rows (fresh ones only). */
  stored(rows: readonly EventRow[]): void {
    const tenants = this.bump(rows, -1);
    if (this.entries.size === 0) return;
    for (const [key, e] of this.entries) {
      if (!tenants.has(e.req.tenant)) continue;
      for (const r of rows) {
        if (r.tenant_id === e.req.tenant && !apply(e, r)) {
          this.entries.delete(key);
          break;
        }
      }
    }
  }
}
