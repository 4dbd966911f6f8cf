// /metrics against a real service (embedded ClickHouse): every contract metric present, with
// values that follow the traffic, and label sets that stay bounded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { storageSizeBytes, watchStorageSize } from '../../src/store/storage-size.ts';
import { createTestService, event, type TestService } from '../support/service.ts';

/** The contract's metric names (CONTRACT.md, "Metrics"), plus what the alert rules read. */
const CONTRACT_METRICS = [
  'audit_activities_total',
  'audit_retention_deleted_total',
  'audit_retention_archived_total',
  'audit_retention_errors_total',
  'audit_query_duration_seconds',
  'audit_storage_size_bytes',
  'audit_ingest_batch_size',
  'audit_spool_events',
];
const ALERTED_METRICS = ['audit_http_requests_total', 'audit_http_request_duration_seconds', 'audit_retention_last_success_timestamp_seconds'];

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition (the subset prom-client writes). */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const s = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value;
}

async function scrape(t: TestService) {
  await t.services.writer.flush(); // counters of stored events move when the drainer inserts
  const res = await t.app.request('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  const text = await res.text();
  return { text, ...parseExposition(text) };
}

let t: TestService;
beforeAll(async () => {
  t = await createTestService();
});
afterAll(async () => t.close());

describe('/metrics', () => {
  it('carries every contract metric, with values that follow real traffic', async () => {
    const critical = [event({ activity_type: 'user.login', severity: 'CRITICAL' }), event({ activity_type: 'user.login', severity: 'CRITICAL' })];
    expect((await t.post(critical)).status).toBe(202);
    // A client-chosen id: looked up before insert (the "dedupe" operation); minted ids need no lookup.
    expect((await t.post(event({ id: '00000000-0000-4000-8000-0000000000f1', activity_type: 'file.uploaded', severity: 'HIGH' }))).status).toBe(202);
    const res = await t.post(event({ activity_type: 'billing.invoice_paid', severity: 'LOW' }));
    expect(res.status).toBe(202);
    const [id] = (await res.json()).ids;
    expect((await t.get('/api/v1/audit/activities?limit=10')).status).toBe(200);
    expect((await t.get(`/api/v1/audit/activities/${id}`)).status).toBe(200);
    expect((await t.post({ activity_type: 'Not Dotted', action: 'x' })).status).toBe(422);
    expect((await t.app.request('/api/v1/audit/activities', { method: 'POST', body: '{}' })).status).toBe(401);
    await t.services.writer.flush();
    await t.services.storageSize.refresh();

    const { samples, types } = await scrape(t);
    for (const name of [...CONTRACT_METRICS, ...ALERTED_METRICS]) expect(types.has(name), `# TYPE ${name}`).toBe(true);
    expect(types.get('audit_query_duration_seconds')).toBe('histogram');
    expect(types.get('audit_ingest_batch_size')).toBe('histogram');
    expect(types.get('audit_spool_events')).toBe('gauge');

    expect(value(samples, 'audit_activities_total', { activity_type: 'user.login', severity: 'CRITICAL' })).toBe(2);
    expect(value(samples, 'audit_activities_total', { activity_type: 'file.uploaded', severity: 'HIGH' })).toBe(1);
    // Not on the allow-list: counted, but under "other".
    expect(value(samples, 'audit_activities_total', { activity_type: 'other', severity: 'LOW' })).toBe(1);
    expect(samples.some((s) => s.labels.activity_type === 'billing.invoice_paid')).toBe(false);

    // Reads and writes are timed per operation.
    for (const operation of ['list', 'get', 'insert', 'dedupe', 'storage_size']) {
      expect(value(samples, 'audit_query_duration_seconds_count', { operation }), operation).toBeGreaterThanOrEqual(1);
      expect(value(samples, 'audit_query_duration_seconds_sum', { operation }), operation).toBeGreaterThan(0);
    }

    // Rows per insert: 4 events stored (the rejected one never reached the writer).
    expect(value(samples, 'audit_ingest_batch_size_sum')).toBe(4);
    expect(value(samples, 'audit_ingest_batch_size_count')).toBeGreaterThanOrEqual(1);

    // Storage size is what system.parts says, and more than nothing.
    const bytes = value(samples, 'audit_storage_size_bytes')!;
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBe(await storageSizeBytes(t.services.store));

    expect(value(samples, 'audit_spool_events')).toBe(0);
    for (const severity of ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL']) {
      expect(value(samples, 'audit_retention_deleted_total', { severity })).toBe(0);
      expect(value(samples, 'audit_retention_archived_total', { severity })).toBe(0);
    }
    expect(value(samples, 'audit_retention_errors_total')).toBe(0);
    expect(value(samples, 'audit_retention_last_success_timestamp_seconds')).toBe(0);

    const ingest = { route: '/api/v1/audit/activities', method: 'POST' };
    expect(value(samples, 'audit_http_requests_total', { ...ingest, status: '2xx' })).toBe(3);
    expect(value(samples, 'audit_http_requests_total', { ...ingest, status: '4xx' })).toBe(2); // 422 and 401
    expect(value(samples, 'audit_http_requests_total', { ...ingest, status: '5xx' })).toBe(0);
    expect(value(samples, 'audit_http_requests_total', { route: '/api/v1/audit/activities/:id', method: 'GET', status: '2xx' })).toBe(1);
    expect(value(samples, 'audit_http_request_duration_seconds_count', { ...ingest })).toBe(5);
    expect(value(samples, 'audit_ingest_rejected_total', { reason: 'invalid-events' })).toBe(1);

    // Node defaults.
    expect(value(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(types.has('nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('times streamed reads from the first chunk to the last under their operation', async () => {
    const store = t.services.store;
    const count = async () => value(parseExposition(await t.services.metrics.registry.metrics()).samples, 'audit_query_duration_seconds_count', { operation: 'export_test' }) ?? 0;
    expect(await count()).toBe(0);
    let text = '';
    for await (const chunk of store.stream(`SELECT number FROM system.numbers LIMIT 1000`, {}, 'JSONEachRow', undefined, 'export_test')) text += chunk;
    expect(text.trim().split('\n')).toHaveLength(1000);
    expect(await count()).toBe(1);
  });

  it('starts every alerted labelled series at 0, so the first CRITICAL event moves rate()', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const { samples } = parseExposition(await m.registry.metrics());
    // 15 allow-listed types + "other", for each of the 4 severities.
    expect(samples.filter((s) => s.name === 'audit_activities_total' && s.labels.severity === 'CRITICAL')).toHaveLength(16);
    expect(samples.filter((s) => s.name === 'audit_activities_total').every((s) => s.value === 0)).toBe(true);
    expect(value(samples, 'audit_http_requests_total', { route: '/api/v1/audit/activities', method: 'POST', status: '5xx' })).toBe(0);
  });

  it('never uses a user id, resource id or free text as a label value', async () => {
    const marker = `zz${Date.now()}`;
    const res = await t.post(event({
      activity_type: `${marker}.thing`, user_id: `user-${marker}`, resource_type: 'file', resource_id: `res-${marker}`,
      description: `text-${marker}`, action: `act_${marker}`,
    }), { token: await t.token({ sub: `sub-${marker}`, scope: 'audit:write audit:admin' }) });
    expect(res.status).toBe(202);
    const { text } = await scrape(t);
    expect(text).not.toContain(marker);
  });

  it('keeps the storage size fresh on scrape and its last value when the store fails, without failing the scrape', async () => {
    const other = await createTestService();
    try {
      const metrics = createMetrics({ defaultMetrics: false });
      // maxAgeMs 0: every scrape refreshes; the timer is out of the way.
      const watcher = watchStorageSize(other.services.store, metrics, createLogger({ level: 'silent' }), { intervalMs: 3_600_000, maxAgeMs: 0, timeoutMs: 5_000 });
      await watcher.refresh();
      const sizeOf = async () => value(parseExposition(await metrics.registry.metrics()).samples, 'audit_storage_size_bytes')!;
      const before = await sizeOf();
      expect(before).toBeGreaterThan(0);
      const rows = Array.from({ length: 500 }, (_, i) => event({ description: `row ${i} ${'x'.repeat(200)}` }));
      expect((await other.post(rows)).status).toBe(202);
      await other.services.writer.flush(); // acknowledged first, stored by the next insert
      const after = await sizeOf(); // no explicit refresh: the scrape did it
      expect(after).toBeGreaterThan(before);
      expect(after).toBe(await storageSizeBytes(other.services.store));

      await other.services.store.close(); // the store is gone from here on
      await expect(storageSizeBytes(other.services.store)).rejects.toThrow();
      const stale = await sizeOf();
      expect(stale).toBe(after);
      await watcher.stop();
    } finally {
      await other.close();
    }
  });
});

describe('AUDIT_METRICS_ACTIVITY_TYPES', () => {
  it('replaces the allow-list of activity types that get their own label', async () => {
    const custom = await createTestService({ AUDIT_METRICS_ACTIVITY_TYPES: 'billing.invoice_paid, user.login' });
    try {
      expect((await custom.post([event({ activity_type: 'billing.invoice_paid' }), event({ activity_type: 'file.uploaded' })])).status).toBe(202);
      const { samples } = await scrape(custom);
      expect(value(samples, 'audit_activities_total', { activity_type: 'billing.invoice_paid', severity: 'LOW' })).toBe(1);
      expect(value(samples, 'audit_activities_total', { activity_type: 'other', severity: 'LOW' })).toBe(1);
      expect(samples.some((s) => s.labels.activity_type === 'file.uploaded')).toBe(false);
    } finally {
      await custom.close();
    }
  });

  it('refuses start-up on a value that is not a list of dotted activity types', () => {
    expect(() => loadConfig({ AUDIT_METRICS_ACTIVITY_TYPES: 'user.login,User Login' })).toThrow(ConfigError);
    expect(() => loadConfig({ AUDIT_METRICS_ACTIVITY_TYPES: 'user.login,User Login' })).toThrow(/AUDIT_METRICS_ACTIVITY_TYPES.*User Login/);
    const many = Array.from({ length: 201 }, (_, i) => `t.type_${i}`).join(',');
    expect(() => loadConfig({ AUDIT_METRICS_ACTIVITY_TYPES: many })).toThrow(/at most 200/);
    expect(loadConfig({}).metrics.activityTypes).toBeUndefined();
  });
});
