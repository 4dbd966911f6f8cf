// The audit.accessed events the access log writes, and what it accumulates for them within one
// coalescing window: an aggregate per distinct read, and a summary per caller once that caller
// is past its distinct-read budget. A summary still says what it covers: which endpoints, which
// statuses, and the first filter sets (bounded in count and bytes, so a summary of a scanner's
// million distinct reads stays one small event), with the reads it could not list counted.
import type { Principal } from '../auth/principal.ts';

export const ACCESS_ACTIVITY_TYPE = 'audit.accessed';
const MAX_FILTERS = 32;
const MAX_FILTER_CHARS = 512;
/** Filter sets a summary lists, and the JSON bytes they may take (the event limit is 64 KiB). */
const SUMMARY_FILTER_SETS = 20;
const SUMMARY_FILTER_BYTES = 16 * 1024;
/** Endpoints a summary names: there are fewer read routes than this. */
const SUMMARY_ENDPOINTS = 32;

export interface AccessRecord {
  /** The tenant whose events were read (for a refused read: the reader's own tenant). */
  tenant: string;
  reader: Principal;
  /** Method and route template, e.g. "GET /api/v1/audit/activities/:id". */
  endpoint: string;
  /** The query parameters of the read, as given. */
  filters: Record<string, string>;
  /** Rows returned (null when the endpoint does not return event rows). */
  rows: number | null;
  status: number;
  /** The event id for a read by id. */
  resourceId?: string | undefined;
  /** False when an export stream ended early (client gone, store error). */
  completed?: boolean;
  ip: string;
  userAgent: string;
  requestId: string;
  at: number;
}

/** Identical reads in one window. */
export interface Aggregate {
  first: AccessRecord;
  reads: number;
  rows: number | null;
  lastAt: number;
  completed: boolean;
}

/** A read is accepted (status < 400) or refused; each kind has budgets of its own. */
export type ReadKind = 'accepted' | 'refused';
export const kindOf = (status: number): ReadKind => (status < 400 ? 'accepted' : 'refused');

/** One caller's reads past its budget in one window, in one tenant, of one kind. */
export class AccessSummary {
  reads = 0;
  lastAt: number;
  private readonly endpoints = new Map<string, number>();
  private readonly statuses = new Map<number, number>();
  private readonly filterSets = new Map<string, { endpoint: string; filters: Record<string, string>; reads: number }>();
  private filterBytes = 0;
  private unlistedReads = 0;

  constructor(readonly first: AccessRecord, readonly kind: ReadKind) {
    this.lastAt = first.at;
  }

  add(r: AccessRecord): void {
    this.reads++;
    this.lastAt = r.at;
    if (this.endpoints.has(r.endpoint) || this.endpoints.size < SUMMARY_ENDPOINTS) {
      this.endpoints.set(r.endpoint, (this.endpoints.get(r.endpoint) ?? 0) + 1);
    }
    this.statuses.set(r.status, (this.statuses.get(r.status) ?? 0) + 1);
    const filters = r.resourceId ? { ...r.filters, id: r.resourceId } : r.filters;
    const key = JSON.stringify([r.endpoint, filters]);
    const listed = this.filterSets.get(key);
    if (listed) listed.reads++;
    else if (this.filterSets.size < SUMMARY_FILTER_SETS && this.filterBytes + key.length <= SUMMARY_FILTER_BYTES) {
      this.filterSets.set(key, { endpoint: r.endpoint, filters, reads: 1 });
      this.filterBytes += key.length;
    } else this.unlistedReads++;
  }

  toEvent(): Record<string, unknown> {
    const r = this.first;
    const endpoints = Object.fromEntries(this.endpoints);
    const names = Object.keys(endpoints);
    return {
      timestamp: new Date(r.at).toISOString(),
      activity_type: ACCESS_ACTIVITY_TYPE,
      severity: 'MEDIUM',
      action: names.length > 0 && names.every((e) => e.endsWith('/export')) ? 'export' : 'read',
      outcome: this.kind === 'accepted' ? 'success' : 'failure',
      description: `${this.reads} further ${this.kind} read(s) by this caller in one window, summarised (past its distinct-read budget): ${names.join(', ')}`,
      resource_type: 'audit_log',
      details: {
        endpoint: names.length === 1 ? names[0] : '*',
        endpoints,
        statuses: Object.fromEntries(this.statuses),
        filter_sets: [...this.filterSets.values()],
        unlisted_reads: this.unlistedReads,
        suppressed_reads: this.reads,
        reader_tenant: r.reader.tenantId,
        first_at: new Date(r.at).toISOString(),
        last_at: new Date(this.lastAt).toISOString(),
      },
    };
  }
}

export function boundFilters(f: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(f).sort().slice(0, MAX_FILTERS)) {
    const v = f[k]!;
    out[k.slice(0, 64)] = v.length > MAX_FILTER_CHARS ? `${v.slice(0, MAX_FILTER_CHARS)}…` : v;
  }
  return out;
}

export function accessEvent(a: Aggregate): Record<string, unknown> {
  const r = a.first;
  const crossTenant = r.reader.tenantId !== r.tenant;
  const exporting = r.endpoint.endsWith('/export');
  const ok = r.status < 400 && a.completed;
  return {
    timestamp: new Date(r.at).toISOString(),
    activity_type: ACCESS_ACTIVITY_TYPE,
    severity: !ok || crossTenant || exporting ? 'MEDIUM' : 'LOW',
    action: exporting ? 'export' : 'read',
    outcome: ok ? 'success' : 'failure',
    description: `${r.endpoint} → ${r.status}${a.rows !== null ? `, ${a.rows} row(s)` : ''}${a.reads > 1 ? ` over ${a.reads} identical reads` : ''}`,
    resource_type: 'audit_log',
    ...(r.resourceId ? { resource_id: r.resourceId } : {}),
    details: {
      endpoint: r.endpoint,
      filters: r.filters,
      row_count: a.rows,
      reads: a.reads,
      status: r.status,
      reader_tenant: r.reader.tenantId,
      first_at: new Date(r.at).toISOString(),
      last_at: new Date(a.lastAt).toISOString(),
      ...(a.completed ? {} : { completed: false }),
    },
  };
}
