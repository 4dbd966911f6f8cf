// One prom-client registry per service instance, holding the contract's metrics.
// Label sets are bounded: severities are an enum, activity types pass through an allow-list
// (everything else counts as "other"), and no user or resource id is ever a label.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { severities } from './event/model.ts';

export const DEFAULT_ACTIVITY_TYPE_LABELS = [
  'user.login', 'user.logout', 'user.login_failed', 'user.created', 'user.updated', 'user.deleted',
  'file.uploaded', 'file.downloaded', 'file.deleted', 'api.request', 'audit.accessed',
  'permission.granted', 'permission.revoked', 'secret.accessed', 'config.changed',
];

/** The ingest route, whose error ratio is alerted on (prometheus/rules/audithouse.yml). */
export const INGEST_ROUTE = '/api/v1/audit/activities';

export function createMetrics(opts: { defaultMetrics?: boolean; activityTypeLabels?: string[] | undefined } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const allowed = new Set(opts.activityTypeLabels ?? DEFAULT_ACTIVITY_TYPE_LABELS);
  // Set by the storage-size watcher (src/store/storage-size.ts): refreshes the gauge on scrape.
  let refreshStorageSize: (() => Promise<void>) | undefined;
  // Set by the writer: when the oldest acknowledged, unstored event was acknowledged (epoch ms).
  let oldestPendingAt: () => number | undefined = () => undefined;
  let sinkLagSource: ((gauge: Gauge<'sink'>) => void) | undefined;

  const activitiesTotal = new Counter({
    name: 'audit_activities_total',
    help: 'Audit activities stored, by activity type (allow-listed, else "other") and severity',
    labelNames: ['activity_type', 'severity'] as const,
    registers: [registry],
  });
  const metrics = {
    registry,
    activitiesTotal,
    /** Maps an activity type onto the bounded label set. */
    activityTypeLabel: (t: string) => (allowed.has(t) ? t : 'other'),
    retentionDeleted: new Counter({
      name: 'audit_retention_deleted_total',
      help: 'Rows deleted by the retention job, by severity',
      labelNames: ['severity'] as const,
      registers: [registry],
    }),
    retentionArchived: new Counter({
      name: 'audit_retention_archived_total',
      help: 'Rows written to verified archives by the retention job, by severity',
      labelNames: ['severity'] as const,
      registers: [registry],
    }),
    retentionErrors: new Counter({
      name: 'audit_retention_errors_total',
      help: 'Retention job runs that failed',
      registers: [registry],
    }),
    retentionLastSuccess: new Gauge({
      name: 'audit_retention_last_success_timestamp_seconds',
      help: 'Unix time of the last retention run that finished without error (0: none since start)',
      registers: [registry],
    }),
    queryDuration: new Histogram({
      name: 'audit_query_duration_seconds',
      help: 'Duration of audit store operations, by operation',
      labelNames: ['operation'] as const,
      // Store round trips: from sub-millisecond point reads to multi-second exports.
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    storageSize: new Gauge({
      name: 'audit_storage_size_bytes',
      help: 'Bytes on disk of the audit tables (active parts, from system.parts)',
      registers: [registry],
      async collect() {
        await refreshStorageSize?.();
      },
    }),
    /** The storage-size watcher registers its (cached, never-throwing) refresh here. */
    onStorageSizeScrape(refresh: (() => Promise<void>) | undefined) {
      refreshStorageSize = refresh;
    },
    ingestBatchSize: new Histogram({
      name: 'audit_ingest_batch_size',
      help: 'Rows per insert issued by the batching writer',
      // Rows: single posts, client batches, group commits up to AUDIT_BATCH_MAX_ROWS (20,000 by default).
      buckets: [1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 20000, 50000, 100000],
      registers: [registry],
    }),
    spoolEvents: new Gauge({
      name: 'audit_spool_events',
      help: 'Events acknowledged into the write-ahead log (the spool) and not yet stored in ClickHouse',
      registers: [registry],
    }),
    spoolOldestAge: new Gauge({
      name: 'audit_spool_oldest_event_age_seconds',
      help: 'How long the oldest acknowledged, not yet stored event has waited (0: nothing waits); about the batch interval when healthy',
      registers: [registry],
      collect() {
        const at = oldestPendingAt();
        this.set(at === undefined ? 0 : Math.max(0, (Date.now() - at) / 1000));
      },
    }),
    /** The writer reports its oldest pending event through this (read on scrape). */
    setOldestPendingSource(fn: () => number | undefined) {
      oldestPendingAt = fn;
    },
    spoolBytes: new Gauge({
      name: 'audit_spool_bytes',
      help: 'Bytes of spool segment files on disk (bounded by AUDIT_SPOOL_MAX_BYTES)',
      registers: [registry],
    }),
    spoolAppended: new Counter({
      name: 'audit_spool_appended_events_total',
      help: 'Events acknowledged through the write-ahead log (fsynced before the answer)',
      registers: [registry],
    }),
    spoolDrained: new Counter({
      name: 'audit_spool_drained_events_total',
      help: 'Events the drainer moved from the write-ahead log into ClickHouse (rate() of it is the drain rate)',
      registers: [registry],
    }),
    spoolCorrupt: new Counter({
      name: 'audit_spool_corrupt_records_total',
      help: 'Spool records skipped because their checksum failed, by reason (torn: a crash mid-append)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    spoolQuarantined: new Counter({
      name: 'audit_spool_quarantined_events_total',
      help: 'Spooled events the store refused for good, moved to spool/<db>/quarantine for an operator',
      registers: [registry],
    }),
    ingestDegraded: new Gauge({
      name: 'audit_ingest_degraded',
      help: '1 while acknowledged events cannot reach the store as usual (store down, slow, or a backlog replaying)',
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'audit_http_requests_total',
      help: 'HTTP requests, by route template, method and status class',
      labelNames: ['route', 'method', 'status'] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'audit_http_request_duration_seconds',
      help: 'HTTP request duration, by route template and method',
      labelNames: ['route', 'method'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    redactions: new Counter({
      name: 'audit_redactions_total',
      help: 'Values replaced by [REDACTED] before storage',
      registers: [registry],
    }),
    sinkDelivered: new Counter({
      name: 'audit_sink_delivered_events_total',
      help: 'Events a sink delivered (the receiver acknowledged them, or for syslog: written to a live connection)',
      labelNames: ['sink'] as const,
      registers: [registry],
    }),
    sinkFailures: new Counter({
      name: 'audit_sink_failures_total',
      help: 'Sink failures by reason: failed attempts (network, timeout, http_408, http_429, http_5xx, store), and events refused for good (rejected)',
      labelNames: ['sink', 'reason'] as const,
      registers: [registry],
    }),
    sinkLag: new Gauge({
      name: 'audit_sink_lag_seconds',
      help: 'Age (since received_at) of the oldest stored event a sink has not delivered yet; 0 when caught up. Exported by the replica delivering the sink',
      labelNames: ['sink'] as const,
      registers: [registry],
      collect() {
        sinkLagSource?.(this);
      },
    }),
    /** The sink runner registers how to compute lags at scrape time. */
    onSinkLagScrape(source: ((gauge: Gauge<'sink'>) => void) | undefined) {
      sinkLagSource = source;
    },
    ingestRejected: new Counter({
      name: 'audit_ingest_rejected_total',
      help: 'Ingest requests refused, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
  };
  // Every labelled series the alert rules read starts at 0: a series that first appears at 1 has
  // no increase for rate()/increase(), so the first CRITICAL event (or first 5xx) would go unseen.
  for (const severity of severities) {
    for (const activity_type of [...allowed, 'other']) activitiesTotal.inc({ activity_type, severity }, 0);
    metrics.retentionDeleted.inc({ severity }, 0);
    metrics.retentionArchived.inc({ severity }, 0);
  }
  for (const status of ['2xx', '4xx', '5xx']) metrics.httpRequests.inc({ route: INGEST_ROUTE, method: 'POST', status }, 0);
  metrics.ingestRejected.inc({ reason: 'store-unavailable' }, 0);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Times an async store operation into audit_query_duration_seconds{operation}. */
export async function timed<T>(metrics: Metrics | undefined, operation: string, fn: () => Promise<T>): Promise<T> {
  if (!metrics) return fn();
  const end = metrics.queryDuration.startTimer({ operation });
  try {
    return await fn();
  } finally {
    end();
  }
}
