// Read-your-writes: a read served by this instance sees every event it acknowledged before the
// read began, although acknowledged events reach ClickHouse up to a batch interval later. Each
// read takes a snapshot of the tenant's acknowledged-but-unstored rows (in memory, from the
// writer) BEFORE it queries the store, then merges: a row the drainer stores meanwhile is found
// in one or both (and counted once), never in neither. Costs no engine round trip when nothing
// is pending; when the in-memory copy is incomplete (a backlog replayed from disk), the read
// waits for the drain instead (a barrier), and answers 503 if the store cannot take it.
//
// Merged rows must sort exactly as ClickHouse sorts them: (timestamp, id) descending, where a
// UUID compares by its second 64 bits first, then its first (ClickHouse's UInt128 layout).
import type { AuditEvent, EventRow } from '../event/model.ts';
import type { BatchWriter } from '../ingest/writer.ts';
import type { PendingRow } from '../spool/pending.ts';
import type { Store } from '../store/client.ts';
import { eventFromRow } from '../store/activity-rows.ts';
import {
  getEvent, listEvents, storedIds, streamEvents, type ActivityFilters, type Cursor,
} from '../store/activities.ts';

/** How long a read waits for a backlog to drain before it gives up (503). */
const BARRIER_MS = 5_000;
/** Events per chunk of an export made of pending rows. */
const STREAM_SLICE = 1_000;

const hexOf = (id: string) => id.replace(/-/g, '').toLowerCase();
/** The id's sort key in ClickHouse's UUID order: low 64 bits, then high 64 bits. */
export const uuidSortKey = (id: string) => {
  const h = hexOf(id);
  return h.slice(16) + h.slice(0, 16);
};

/** Descending (timestamp, id) order, as `ORDER BY timestamp DESC, id DESC`. */
export function newerFirst(a: { ts: number; key: string }, b: { ts: number; key: string }): number {
  if (a.ts !== b.ts) return b.ts - a.ts;
  return a.key < b.key ? 1 : a.key > b.key ? -1 : 0;
}

const asciiLower = (s: string) => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/** The columns the list filters look at. */
type FilteredColumns = Pick<EventRow, 'id' | 'timestamp' | 'user_id' | 'action' | 'resource_type' | 'resource_id' | 'outcome' | 'activity_type' | 'severity' | 'description'>;

/** The list filters as a predicate on a stored-form row: the same conditions as whereClause(). */
export function matches(r: FilteredColumns, f: ActivityFilters, cursor?: Cursor): boolean {
  if (f.user_id !== undefined && r.user_id !== f.user_id) return false;
  if (f.action !== undefined && r.action !== f.action) return false;
  if (f.resource_type !== undefined && r.resource_type !== f.resource_type) return false;
  if (f.resource_id !== undefined && r.resource_id !== f.resource_id) return false;
  if (f.outcome !== undefined && r.outcome !== f.outcome) return false;
  if (f.activity_type?.length && !f.activity_type.includes(r.activity_type)) return false;
  if (f.severity?.length && !f.severity.includes(r.severity)) return false;
  if (f.since !== undefined && r.timestamp < f.since) return false;
  if (f.until !== undefined && r.timestamp >= f.until) return false;
  if (f.q !== undefined && f.q !== '') {
    // ASCII: lower(description) LIKE '%q%' (lower() folds ASCII only); else a Unicode case fold.
    const hit = /^[\x00-\x7F]*$/.test(f.q)
      ? asciiLower(r.description).includes(asciiLower(f.q))
      : r.description.toLowerCase().includes(f.q.toLowerCase());
    if (!hit) return false;
  }
  if (cursor && newerFirst({ ts: r.timestamp, key: uuidSortKey(r.id) }, { ts: cursor.ts, key: uuidSortKey(cursor.id) }) <= 0) return false;
  return true;
}

interface Candidate {
  event: AuditEvent;
  ts: number;
  key: string;
  /** From the pending rows (else: stored). */
  pending?: PendingRow;
}

/**
 * The tenant's pending rows as of now. When memory does not hold every pending row, waits until
 * everything acknowledged so far is stored (then nothing older can be missing).
 */
async function snapshot(writer: BatchWriter, tenant: string): Promise<PendingRow[]> {
  if (!writer.pendingComplete) await writer.barrier(BARRIER_MS);
  // First pending occurrence of an id wins (the drainer stores the first and skips the rest).
  const seen = new Set<string>();
  return writer.pendingRows(tenant).filter((p) => !seen.has(p.row.id) && seen.add(p.row.id));
}

/**
 * Whether a pending row may repeat a stored event, so the store must be asked: only an id a client
 * gave (not minted here) whose insert was not sent yet. A row whose insert was sent cannot (the
 * de-duplication let it through): when the store shows its id, that is this very row, landed
 * after the stored page was read, and dropping it would lose it from the read.
 */
const mayRepeatStored = (writer: BatchWriter, p: PendingRow) => !p.minted && !writer.isSent(p.row);

/** The first `limit` candidates, without pending rows that repeat a stored event (each id looked up once). */
async function topWithoutStored(store: Store, writer: BatchWriter, tenant: string, merged: Candidate[], limit: number): Promise<Candidate[]> {
  const checked = new Set<string>();
  for (;;) {
    const page = merged.slice(0, limit);
    const doubtful = page.filter((c) => c.pending && mayRepeatStored(writer, c.pending) && !checked.has(c.event.id)).map((c) => c.event.id);
    if (doubtful.length === 0) return page;
    for (const id of doubtful) checked.add(id);
    const stored = await storedIds(store, tenant, doubtful);
    if (stored.size > 0) merged = merged.filter((c) => !(c.pending && stored.has(c.event.id)));
  }
}

const candidate = (event: AuditEvent, pending?: PendingRow): Candidate =>
  ({ event, ts: Date.parse(event.timestamp), key: uuidSortKey(event.id), ...(pending ? { pending } : {}) });

/**
 * listEvents with read-your-writes: the stored page (from the writer's read cache when it can
 * prove the page complete, else from the store) merged with this instance's pending rows.
 */
export async function readPage(store: Store, writer: BatchWriter, tenant: string, filters: ActivityFilters, limit: number, cursor?: Cursor): Promise<AuditEvent[]> {
  const pending = (await snapshot(writer, tenant)).filter((p) => matches(p.row, filters, cursor));
  const stored = (await writer.tail?.page(tenant, filters, limit, cursor)) ?? (await listEvents(store, tenant, filters, limit, cursor));
  if (pending.length === 0) return stored;
  const storedIdSet = new Set(stored.map((e) => e.id));
  const merged = [
    ...stored.map((e) => candidate(e)),
    ...pending.filter((p) => !storedIdSet.has(p.row.id)).map((p) => candidate(eventFromRow(p.row), p)),
  ].sort(newerFirst);
  // `limit` stored rows were fetched, so dropping pending duplicates still leaves an exact page.
  return (await topWithoutStored(store, writer, tenant, merged, limit)).map((c) => c.event);
}

/** getEvent with read-your-writes: the stored event (read cache, else store), else the first pending one with that id. */
export async function readOne(store: Store, writer: BatchWriter, tenant: string, id: string): Promise<AuditEvent | undefined> {
  const pending = (await snapshot(writer, tenant)).find((p) => p.row.id === id);
  const stored = writer.tail ? await writer.tail.event(tenant, id) : await getEvent(store, tenant, id);
  return stored ?? (pending ? eventFromRow(pending.row) : undefined);
}

/** streamEvents with read-your-writes: pending rows merged into the stream at their place. */
export async function* readStream(
  store: Store, writer: BatchWriter, tenant: string, filters: ActivityFilters, opts: { limit?: number | undefined; signal?: AbortSignal } = {},
): AsyncGenerator<AuditEvent[]> {
  let pending = (await snapshot(writer, tenant)).filter((p) => matches(p.row, filters)).map((p) => candidate(eventFromRow(p.row), p));
  if (pending.length > 0) {
    const stored = await storedIds(store, tenant, pending.filter((c) => mayRepeatStored(writer, c.pending!)).map((c) => c.event.id));
    pending = pending.filter((c) => !stored.has(c.event.id)).sort(newerFirst);
  }
  let sent = 0;
  const limit = opts.limit ?? Number.POSITIVE_INFINITY;
  let next = 0;
  // Pending rows come in slices like the store's batches: the response streams, memory stays flat.
  const slices = function* (rows: AuditEvent[]) {
    for (let i = 0; i < rows.length; i += STREAM_SLICE) yield rows.slice(i, i + STREAM_SLICE);
  };
  for await (const batch of streamEvents(store, tenant, filters, opts)) {
    const out: AuditEvent[] = [];
    for (const e of batch) {
      const c = candidate(e);
      while (next < pending.length && newerFirst(pending[next]!, c) < 0) out.push(pending[next++]!.event);
      // The drainer stored a pending row while the stream ran: it is in both, count it once.
      if (next < pending.length && pending[next]!.event.id === e.id) next++;
      out.push(e);
    }
    for (const slice of slices(out.slice(0, Math.max(0, limit - sent)))) {
      sent += slice.length;
      yield slice;
    }
    if (sent >= limit) return;
  }
  yield* slices(pending.slice(next).map((c) => c.event).slice(0, Math.max(0, limit - sent)));
}
