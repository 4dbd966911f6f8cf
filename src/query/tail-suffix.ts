// One suffix of the read cache (src/query/tail.ts) and its rows: a held row and its estimated
// size, the filters a suffix is keyed by (without the time range), positions inside one, and a
// page answered from it only when it is provably complete and no row is near its TTL expiry.
import type { AuditEvent, EventRow } from '../event/model.ts';
import type { ActivityFilters, Cursor } from '../store/activities.ts';
import { newerFirst, uuidSortKey } from './pending-reads.ts';

/** A held row. Shared by every suffix that holds it and the id map. */
export interface CachedRow {
  row: EventRow;
  ts: number;
  key: string;
  bytes: number;
  /** The API form, made on first use. */
  event?: AuditEvent;
}

export interface Suffix {
  id: string;
  tenant: string;
  filters: ActivityFilters;
  /** Newest first. Every matching stored row newer than or equal to the last one is here. */
  rows: CachedRow[];
  /** Every matching stored row is here (no horizon). */
  complete: boolean;
  bytes: number;
  /** A load or extension runs: rows stored meanwhile that it may or may not return. */
  loading: CachedRow[] | undefined;
  loaded: boolean;
  dropped: boolean;
}

/** Rows within this of their TTL expiry are never answered from memory. */
export const EXPIRY_MARGIN_MS = 3_600_000;
const OVERHEAD_BYTES = 1_200;

export function rowBytes(r: EventRow): number {
  // Strings are UTF-16 in V8; the API form (parsed details) roughly doubles details again.
  return OVERHEAD_BYTES + 2 * (r.id.length + r.tenant_id.length + r.activity_type.length + r.action.length + r.user_id.length
    + r.resource_type.length + r.resource_id.length + r.ip_address.length + r.user_agent.length + r.request_id.length
    + r.description.length) + 4 * r.details.length;
}

export const cachedRow = (row: EventRow): CachedRow => ({ row, ts: row.timestamp, key: uuidSortKey(row.id), bytes: rowBytes(row) });

/** Filters without the time range: since/until are positions inside one suffix. */
export function baseFilters(f: ActivityFilters): ActivityFilters {
  const { since: _s, until: _u, ...rest } = f;
  const out: ActivityFilters = {};
  for (const [k, v] of Object.entries(rest)) {
    if (v === undefined || (Array.isArray(v) && v.length === 0) || (k === 'q' && v === '')) continue;
    (out as Record<string, unknown>)[k] = Array.isArray(v) ? [...new Set(v as string[])].sort() : v;
  }
  return out;
}

/** Index of the first row strictly older than `pos` (rows are newest first). */
export function firstOlder(rows: CachedRow[], pos: { ts: number; key: string }): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (newerFirst(rows[mid]!, pos) > 0) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Page from a suffix at `cursor` within since/until: 'short' when the suffix cannot prove it complete. */
export function answerPage(
  s: Suffix, f: ActivityFilters, limit: number, cursor: Cursor | undefined, expiresAt: ((row: EventRow) => number) | undefined,
): CachedRow[] | 'short' | 'expiring' {
  let i = 0;
  if (cursor) i = firstOlder(s.rows, { ts: cursor.ts, key: uuidSortKey(cursor.id) });
  if (f.until !== undefined) i = Math.max(i, firstOlder(s.rows, { ts: f.until, key: '' })); // ts < until
  const out: CachedRow[] = [];
  let bounded = false; // a row older than `since` ended the page: nothing between is missing
  for (; i < s.rows.length && out.length < limit; i++) {
    const c = s.rows[i]!;
    if (f.since !== undefined && c.ts < f.since) {
      bounded = true;
      break;
    }
    out.push(c);
  }
  if (out.length < limit && !bounded && !s.complete) return 'short';
  if (expiresAt) {
    const soon = Date.now() + EXPIRY_MARGIN_MS;
    if (out.some((c) => expiresAt(c.row) <= soon)) return 'expiring';
  }
  return out;
}
