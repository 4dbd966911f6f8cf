// Reading the audit log is itself audited: every read answers normally, and an `audit.accessed`
// event (who, which tenant, which endpoint, which filters, how many rows) goes through the normal
// ingest path (validation, redaction, BatchWriter) shortly after.
//
// No recursion storm: an access event is written straight to the writer, never through HTTP, so
// storing it triggers no read. Reads of access events do create access events, but never more
// than one per distinct read: identical reads (same tenant, reader, endpoint, filters, outcome)
// within a window are coalesced into one event that counts them (`reads`, `row_count`).
//
// Bounded, and fair: distinct reads cost one stored event each, so each window has budgets of
// them, per caller (reader tenant + sub) within a tenant and per tenant, and separately for
// accepted and refused reads. Past its budget a caller's further reads collapse into one summary
// event that still names the endpoints, statuses and (bounded) filter sets it covers. So a caller
// flooding cheap 403s fills only its own refused budget: another caller's reads, its own accepted
// reads and every other tenant's reads are still recorded in full. (Before, one global budget of
// 1,000 let ~1,100 refused reads from one tenant reduce another tenant's export to "1 further
// read(s)".) Memory is bounded too: when a window holds MAX_PENDING entries it is written early.
//
// Not blocking: the response never waits for the access event. The price: an access made within
// the last window before a crash may go unrecorded; shutdown flushes what is pending.
import type { MiddlewareHandler } from 'hono';
import { diagnosticError } from '../log-redact.ts';
import { loggableError } from '../store/errors.ts';
import type { AppEnv } from '../env.ts';
import { problem } from '../problems.ts';
import type { EventRow } from '../event/model.ts';
import { normalizeEvents } from '../ingest/normalize.ts';
import { clientIp } from '../ingest/routes.ts';
import type { Redactor } from '../ingest/redact.ts';
import type { BatchWriter } from '../ingest/writer.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { ACCESS_ACTIVITY_TYPE, accessEvent, AccessSummary, boundFilters, kindOf, type AccessRecord, type Aggregate } from './access-events.ts';

export { ACCESS_ACTIVITY_TYPE, type AccessRecord };

/** Distinct reads kept per window for one tenant, per kind (accepted, refused). */
export const MAX_DISTINCT = 1_000;
/** Distinct reads kept per window for one caller within a tenant, per kind. */
export const MAX_DISTINCT_PER_CALLER = 100;
/** Entries (aggregates + summaries) a window may hold before it is written early. */
const MAX_PENDING = 20_000;

export interface AccessLogOptions {
  enabled: boolean;
  windowMs: number;
}

export class AccessLog {
  private pending = new Map<string, Aggregate>();
  /** Distinct reads kept this window, per tenant + kind and per caller + kind. */
  private tenantDistinct = new Map<string, number>();
  private callerDistinct = new Map<string, number>();
  /** Reads past a budget this window, per caller + kind. */
  private suppressed = new Map<string, AccessSummary>();
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
    } else {
      const kind = kindOf(r.status);
      const tenantKey = `${kind}\u0000${r.tenant}`;
      const callerKey = JSON.stringify([kind, r.tenant, r.reader.tenantId, r.reader.sub]);
      const byTenant = this.tenantDistinct.get(tenantKey) ?? 0;
      const byCaller = this.callerDistinct.get(callerKey) ?? 0;
      if (byTenant < MAX_DISTINCT && byCaller < MAX_DISTINCT_PER_CALLER) {
        this.pending.set(key, { first: { ...r, filters }, reads: 1, rows: r.rows, lastAt: r.at, completed: r.completed ?? true });
        this.tenantDistinct.set(tenantKey, byTenant + 1);
        this.callerDistinct.set(callerKey, byCaller + 1);
      } else {
        let s = this.suppressed.get(callerKey);
        if (!s) this.suppressed.set(callerKey, (s = new AccessSummary({ ...r, filters }, kind)));
        s.add({ ...r, filters });
      }
    }
    if (this.pending.size + this.suppressed.size >= MAX_PENDING) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.opts.windowMs).unref();
  }

  /** Writes every pending access event; resolves once they are stored (or failed and logged). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const aggregates = [...this.pending.values()];
    const suppressed = [...this.suppressed.values()];
    this.pending = new Map();
    this.suppressed = new Map();
    this.tenantDistinct = new Map();
    this.callerDistinct = new Map();
    const rows: EventRow[] = [];
    for (const a of aggregates) rows.push(...this.toRows(accessEvent(a), a.first));
    for (const s of suppressed) {
      this.log?.warn({ tenant: s.first.tenant, reader_tenant: s.first.reader.tenantId, kind: s.kind, suppressed_reads: s.reads },
        'access log: a caller made too many distinct reads in one window; summarised');
      rows.push(...this.toRows(s.toEvent(), s.first));
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
      this.log?.error({ error: diagnosticError(err) }, 'access log: could not build an audit.accessed event');
      return [];
    }
  }
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
 * HEAD under /api is answered 405 (Allow: GET), before authentication. Hono runs a HEAD through
 * the GET handler and drops the body, so a HEAD of a read by id is an existence check that left
 * no audit.accessed, and a HEAD of an export would run the whole stream for nothing. Refusing it
 * is simpler to keep true than auditing a second method everywhere: every read is a GET, and
 * every GET is audited. Probes that want HEAD have /healthz and /readyz.
 */
export const refuseHeadReads: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method !== 'HEAD') return next();
  throw problem('method-not-allowed',
    `HEAD is not allowed on ${c.req.path}: reads of the audit log are audited, so use GET; allowed: GET.`, { headers: { Allow: 'GET' } });
};

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
