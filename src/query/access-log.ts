// Reading the audit log is itself audited: every read answers normally, and an `audit.accessed`
// event (who, which tenant, which endpoint, which filters, how many rows) goes through the normal
// ingest path (validation, redaction, BatchWriter) shortly after.
//
// No recursion storm: an access event is written straight to the writer, never through HTTP, so
// storing it triggers no read. Reads of access events do create access events, but never more
// than one per distinct read: identical reads (same tenant, reader, endpoint, filters, outcome)
// within a window are coalesced into one event that counts them (`reads`, `row_count`), and a
// window holds at most MAX_DISTINCT distinct reads; past that, a tenant's further reads collapse
// into one summary event with `suppressed_reads`. So a dashboard polling its own access log adds
// at most one event per window, not a cascade.
//
// Not blocking: the response never waits for the access event. The price: an access made within
// the last window before a crash may go unrecorded; shutdown flushes what is pending.
import type { MiddlewareHandler } from 'hono';
import { loggableError } from '../store/errors.ts';
import type { Principal } from '../auth/principal.ts';
import type { AppEnv } from '../env.ts';
import type { EventRow } from '../ingest/event.ts';
import { normalizeEvents } from '../ingest/normalize.ts';
import { clientIp } from '../ingest/routes.ts';
import type { Redactor } from '../ingest/redact.ts';
import type { BatchWriter } from '../ingest/writer.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';

export const ACCESS_ACTIVITY_TYPE = 'audit.accessed';
/** Distinct reads kept per window before further reads are summarised per tenant. */
export const MAX_DISTINCT = 1_000;
const MAX_FILTERS = 32;
const MAX_FILTER_CHARS = 512;

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

interface Aggregate {
  first: AccessRecord;
  reads: number;
  rows: number | null;
  lastAt: number;
  completed: boolean;
}

export interface AccessLogOptions {
  enabled: boolean;
  windowMs: number;
}

export class AccessLog {
  private pending = new Map<string, Aggregate>();
  /** Reads past MAX_DISTINCT in this window, per tenant. */
  private suppressed = new Map<string, { reads: number; first: AccessRecord }>();
  private timer: NodeJS.Timeout | undefined;
  private inflight = new Set<Promise<void>>();

  constructor(
    private readonly writer: BatchWriter,
    private readonly redactor: Redactor,
    private readonly opts: AccessLogOptions,
    private readonly log?: Logger,
    private readonly metrics?: Metrics,
  ) {}

  get enabled(): boolean {
    return this.opts.enabled;
  }

  /** Notes a read; returns at once. The event is written when the window closes. */
  record(r: AccessRecord): void {
    if (!this.opts.enabled) return;
    const filters = boundFilters(r.filters);
    const key = JSON.stringify([r.tenant, r.reader.tenantId, r.reader.sub, r.endpoint, r.status, r.resourceId ?? '', r.completed ?? true, filters]);
    const agg = this.pending.get(key);
    if (agg) {
      agg.reads++;
      if (r.rows !== null) agg.rows = (agg.rows ?? 0) + r.rows;
      agg.lastAt = r.at;
    } else if (this.pending.size < MAX_DISTINCT) {
      this.pending.set(key, { first: { ...r, filters }, reads: 1, rows: r.rows, lastAt: r.at, completed: r.completed ?? true });
    } else {
      const s = this.suppressed.get(r.tenant);
      if (s) s.reads++;
      else this.suppressed.set(r.tenant, { reads: 1, first: { ...r, filters: {} } });
    }
    this.timer ??= setTimeout(() => void this.flush(), this.opts.windowMs).unref();
  }

  /** Writes every pending access event; resolves once they are stored (or failed and logged). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const aggregates = [...this.pending.values()];
    const suppressed = [...this.suppressed.entries()];
    this.pending = new Map();
    this.suppressed = new Map();
    const rows: EventRow[] = [];
    for (const a of aggregates) rows.push(...this.toRows(accessEvent(a), a.first));
    for (const [tenant, s] of suppressed) {
      this.log?.warn({ tenant, suppressed_reads: s.reads }, 'access log: too many distinct reads in one window; summarised');
      rows.push(...this.toRows(summaryEvent(s.reads, s.first), s.first));
    }
    if (rows.length > 0) {
      const write = this.writer.write(rows).then(
        () => {},
        (err: unknown) => this.log?.error({ err: loggableError(err), events: rows.length }, 'access log: could not store audit.accessed events'),
      );
      this.inflight.add(write);
      void write.finally(() => this.inflight.delete(write));
    }
    await Promise.all([...this.inflight]);
  }

  async close(): Promise<void> {
    await this.flush();
    this.opts.enabled = false;
  }

  /** Through the same validation and redaction as a posted event. */
  private toRows(event: Record<string, unknown>, r: AccessRecord): EventRow[] {
    try {
      const { rows, redactions } = normalizeEvents([event], {
        principal: { sub: r.reader.sub, tenantId: r.tenant, scopes: new Set() },
        ip: r.ip,
        userAgent: r.userAgent,
        requestId: r.requestId,
        now: Date.now(),
        service: true, // audit.accessed is in the reserved namespace that callers may not post
      }, this.redactor);
      if (redactions > 0) this.metrics?.redactions.inc(redactions);
      return rows;
    } catch (err) {
      this.log?.error({ err }, 'access log: could not build an audit.accessed event');
      return [];
    }
  }
}

function boundFilters(f: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(f).sort().slice(0, MAX_FILTERS)) {
    const v = f[k]!;
    out[k.slice(0, 64)] = v.length > MAX_FILTER_CHARS ? `${v.slice(0, MAX_FILTER_CHARS)}…` : v;
  }
  return out;
}

function accessEvent(a: Aggregate): Record<string, unknown> {
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

function summaryEvent(reads: number, r: AccessRecord): Record<string, unknown> {
  return {
    timestamp: new Date(r.at).toISOString(),
    activity_type: ACCESS_ACTIVITY_TYPE,
    severity: 'MEDIUM',
    action: 'read',
    outcome: 'success',
    description: `${reads} further read(s) in one window, summarised (more than ${MAX_DISTINCT} distinct reads)`,
    resource_type: 'audit_log',
    details: { endpoint: '*', suppressed_reads: reads, reader_tenant: r.reader.tenantId },
  };
}

/** Who made the request, for the access event's ip/user agent/request id. */
export function requestOrigin(c: Parameters<MiddlewareHandler<AppEnv>>[0]): { ip: string; userAgent: string; requestId: string } {
  return {
    ip: clientIp(c),
    userAgent: (c.req.header('User-Agent') ?? '').slice(0, 1024),
    requestId: c.get('requestId'),
  };
}

/**
 * Records every GET under /api once its response is decided: successful reads in the tenant that
 * was read, refused ones (403, and 404 for a read by id) in the reader's own tenant. Endpoints
 * report their row count with `c.set('accessRows', n)`; a streaming endpoint that records itself
 * when its stream ends sets `accessAudited`.
 */
export const auditReads: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (c.req.method !== 'GET') return;
  const { accessLog } = c.get('services');
  const principal = c.get('principal');
  if (!accessLog?.enabled || !principal || c.get('accessAudited')) return;
  const status = c.res.status;
  const readTenantSet = c.get('accessTenant');
  if (status >= 400 && status !== 403 && !(status === 404 && readTenantSet)) return;
  accessLog.record({
    tenant: status < 400 ? readTenantSet ?? principal.tenantId : principal.tenantId,
    reader: principal,
    endpoint: `GET ${c.req.routePath}`,
    filters: c.req.query(),
    rows: c.get('accessRows') ?? null,
    status,
    resourceId: c.get('accessResource'),
    ...requestOrigin(c),
    at: Date.now(),
  });
};
