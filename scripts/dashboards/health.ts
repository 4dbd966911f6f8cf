// "Service health": the service's own Prometheus metrics (names from src/metrics.ts and the
// contract): ingest, HTTP latency and errors, batching, spool, store operations, retention,
// storage and the Node process.
import { dashboard, layout, promTarget, promVariable, PROMETHEUS, type Json } from './kit.ts';
import { stat, timeseries } from './panels.ts';

export const HEALTH_UID = 'audit-service-health';

const I = '{instance=~"$instance"}';
const sel = (labels: string) => `{instance=~"$instance",${labels}}`;
const rate = (metric: string, selector = I) => `rate(${metric}${selector}[$__rate_interval])`;
const quantile = (q: number, metric: string, by = 'le') => `histogram_quantile(${q}, sum by (${by}) (${rate(`${metric}_bucket`)}))`;

export function healthDashboard(): Json {
  const ds = { datasource: PROMETHEUS };
  const panels = layout([
    {
      h: 4,
      panels: [
        stat({ ...ds, title: 'Instances up', w: 4, description: 'Service instances Prometheus scrapes successfully.',
          targets: [promTarget(`sum(up{job="audithouse",instance=~"$instance"})`, 'up', 'A')] }),
        stat({ ...ds, title: 'Ingest rate', w: 4, unit: 'cps', description: 'Events stored per second.',
          targets: [promTarget(`sum(${rate('audit_activities_total')})`, 'events/s', 'A')] }),
        stat({ ...ds, title: 'HTTP 5xx ratio', w: 4, unit: 'percentunit', redFrom: 0.01,
          targets: [promTarget(
            `sum(${rate('audit_http_requests_total', sel('status="5xx"'))}) / clamp_min(sum(${rate('audit_http_requests_total')}), 1e-9)`,
            '5xx', 'A')] }),
        stat({ ...ds, title: 'Spool depth', w: 4, redFrom: 1, description: 'Events acknowledged but not yet stored in ClickHouse.',
          targets: [promTarget(`sum(audit_spool_events${I})`, 'spooled', 'A')] }),
        stat({ ...ds, title: 'Storage size', w: 4, unit: 'bytes',
          targets: [promTarget(`max(audit_storage_size_bytes${I})`, 'bytes', 'A')] }),
        stat({ ...ds, title: 'Since last retention run', w: 4, unit: 's', redFrom: 2 * 86_400,
          description: 'Time since the retention job last succeeded (no data: it has not succeeded yet).',
          targets: [promTarget(`time() - (max(audit_retention_last_success_timestamp_seconds${I}) > 0)`, 'age', 'A')] }),
      ],
    },
    {
      h: 8,
      panels: [
        timeseries({ ...ds, title: 'Ingest rate by severity', w: 12, unit: 'cps', colorBySeverity: true,
          targets: [promTarget(`sum by (severity) (${rate('audit_activities_total')})`, '{{severity}}', 'A')] }),
        timeseries({ ...ds, title: 'Request latency p50 / p95 / p99', w: 12, unit: 's',
          targets: [
            promTarget(quantile(0.5, 'audit_http_request_duration_seconds'), 'p50', 'A'),
            promTarget(quantile(0.95, 'audit_http_request_duration_seconds'), 'p95', 'B'),
            promTarget(quantile(0.99, 'audit_http_request_duration_seconds'), 'p99', 'C'),
          ] }),
      ],
    },
    {
      h: 8,
      panels: [
        timeseries({ ...ds, title: 'Requests by route and status', w: 12, unit: 'reqps',
          targets: [promTarget(`sum by (route, status) (${rate('audit_http_requests_total')})`, '{{route}} {{status}}', 'A')] }),
        timeseries({ ...ds, title: 'Errors', w: 12, unit: 'reqps',
          description: 'Server errors by route, refused ingest requests by reason, failed retention runs.',
          targets: [
            promTarget(`sum by (route) (${rate('audit_http_requests_total', sel('status="5xx"'))})`, '5xx {{route}}', 'A'),
            promTarget(`sum by (reason) (${rate('audit_ingest_rejected_total')})`, 'rejected: {{reason}}', 'B'),
            promTarget(`sum(${rate('audit_retention_errors_total')})`, 'retention run failed', 'C'),
          ] }),
      ],
    },
    {
      h: 8,
      panels: [
        timeseries({ ...ds, title: 'Ingest batch size', w: 12, description: 'Rows per INSERT issued by the batching writer.',
          targets: [
            promTarget(quantile(0.5, 'audit_ingest_batch_size'), 'p50', 'A'),
            promTarget(quantile(0.99, 'audit_ingest_batch_size'), 'p99', 'B'),
            promTarget(`sum(${rate('audit_ingest_batch_size_sum')}) / clamp_min(sum(${rate('audit_ingest_batch_size_count')}), 1e-9)`, 'mean', 'C'),
          ] }),
        timeseries({ ...ds, title: 'Store operation latency p95', w: 12, unit: 's',
          targets: [promTarget(quantile(0.95, 'audit_query_duration_seconds', 'le, operation'), '{{operation}}', 'A')] }),
      ],
    },
    {
      h: 8,
      panels: [
        timeseries({ ...ds, title: 'Spool depth', w: 8,
          targets: [promTarget(`sum(audit_spool_events${I})`, 'spooled events', 'A')] }),
        timeseries({ ...ds, title: 'Retention runs: rows archived and deleted', w: 8, bars: true,
          description: 'Rows the nightly job archived and then deleted, by severity.',
          targets: [
            promTarget(`sum by (severity) (increase(audit_retention_archived_total${I}[$__rate_interval]))`, 'archived {{severity}}', 'A'),
            promTarget(`sum by (severity) (increase(audit_retention_deleted_total${I}[$__rate_interval]))`, 'deleted {{severity}}', 'B'),
          ] }),
        timeseries({ ...ds, title: 'Storage size', w: 8, unit: 'bytes',
          targets: [promTarget(`max by (instance) (audit_storage_size_bytes${I})`, '{{instance}}', 'A')] }),
      ],
    },
    {
      h: 8,
      panels: [
        timeseries({ ...ds, title: 'Sink lag', w: 12, unit: 's',
          description: 'Per sink (AUDIT_SINKS_FILE): how long ago the oldest event not yet delivered was received; 0 when caught up. Alert AuditSinkLagging at 15 min for 10 min.',
          targets: [promTarget(`max by (sink) (audit_sink_lag_seconds${I})`, '{{sink}}', 'A')] }),
        timeseries({ ...ds, title: 'Sink deliveries and failures', w: 12,
          description: 'Events delivered per second, and failures per second by reason (rejected: events a receiver refused for good, skipped).',
          targets: [
            promTarget(`sum by (sink) (${rate('audit_sink_delivered_events_total')})`, 'delivered {{sink}}', 'A'),
            promTarget(`sum by (sink, reason) (${rate('audit_sink_failures_total')})`, 'failed {{sink}}: {{reason}}', 'B'),
          ] }),
      ],
    },
    {
      h: 7,
      panels: [
        timeseries({ ...ds, title: 'Process memory', w: 12, unit: 'bytes',
          targets: [promTarget(`process_resident_memory_bytes${I}`, '{{instance}} rss', 'A')] }),
        timeseries({ ...ds, title: 'Event loop lag p99', w: 12, unit: 's',
          targets: [promTarget(`nodejs_eventloop_lag_p99_seconds${I}`, '{{instance}}', 'A')] }),
      ],
    },
  ]);

  return dashboard({
    uid: HEALTH_UID,
    title: 'Service health',
    description: 'audithouse as a service: ingest, latency, errors, batching, spool, retention, storage, sinks (Prometheus).',
    time: { from: 'now-6h', to: 'now' },
    refresh: '30s',
    variables: [promVariable({ name: 'instance', label: 'Instance', query: 'label_values(audit_http_requests_total, instance)' })],
    panels,
  });
}
