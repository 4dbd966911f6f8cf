// The OpenTelemetry JS SDK's own log exporters pointed at the service: OTLP/HTTP JSON
// (@opentelemetry/exporter-logs-otlp-http) and protobuf (-otlp-proto), through a loopback front
// that answers the first export 429 or 503 with Retry-After, so the exporters' own retry is what
// gets the records in. Every record is stored exactly once.
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as JsonExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyOf } from '../support/api.ts';
import { startFront, startService, type Front, type RunningService } from '../support/running-service.ts';

let svc: RunningService;
beforeAll(async () => {
  svc = await startService();
});
afterAll(() => svc?.close());

const cases = [
  { name: 'OTLP/HTTP JSON (exporter-logs-otlp-http)', Exporter: JsonExporter, contentType: 'application/json', refusal: 429 },
  { name: 'OTLP/HTTP protobuf (exporter-logs-otlp-proto)', Exporter: ProtoExporter, contentType: 'application/x-protobuf', refusal: 503 },
] as const;

describe.each(cases)('$name', ({ Exporter, contentType, refusal }) => {
  let front: Front;
  afterAll(() => front?.close());

  it(`retries after a ${refusal} with Retry-After and stores every record exactly once`, async () => {
    const tenant = `sdk-${refusal}`;
    const token = await svc.token({ tenant, scope: 'audit:write', sub: 'svc-shop' });
    // The first export is refused; every later one reaches the service.
    front = await startFront(svc.url, (r) =>
      r.n === 0 ? { kind: 'respond', status: refusal, headers: { 'Retry-After': '1' } } : { kind: 'forward' });
    const exporter = new Exporter({ url: `${front.url}/v1/logs`, headers: { Authorization: `Bearer ${token}` }, timeoutMillis: 20_000 });
    const provider = new LoggerProvider({
      resource: resourceFromAttributes({ 'service.name': 'shop' }),
      processors: [new BatchLogRecordProcessor(exporter, { maxExportBatchSize: 100, scheduledDelayMillis: 50, exportTimeoutMillis: 30_000 })],
    });
    const logger = provider.getLogger('shop.audit', '1.0.0');
    for (let i = 0; i < 25; i++) {
      logger.emit({
        eventName: 'order.placed',
        severityNumber: i === 0 ? SeverityNumber.WARN : SeverityNumber.INFO,
        body: `Order ${i} placed`,
        attributes: { 'audit.action': 'order_place', 'user.id': `u-${i}`, 'audit.resource.type': 'order', 'audit.resource.id': `o-${i}`, total: i * 10 },
      });
    }
    await provider.forceFlush();
    await provider.shutdown();

    expect(front.requests[0]!.status).toBe(refusal);
    expect(front.requests.length).toBeGreaterThanOrEqual(2);
    expect(front.requests.every((r) => String(r.headers['content-type']).startsWith(contentType))).toBe(true);
    expect(front.requests.slice(1).every((r) => r.status === 200)).toBe(true);
    expect(await svc.rows(tenant)).toBe(25);
    expect(new Set(await svc.ids(tenant)).size).toBe(25);

    const reader = await svc.token({ tenant, scope: 'audit:read' });
    const page = await bodyOf(await fetch(`${svc.url}/api/v1/audit/activities?resource_id=o-0`, { headers: { Authorization: `Bearer ${reader}` } }), 'get', '/api/v1/audit/activities?resource_id=o-0');
    expect(page.data[0]).toMatchObject({
      activity_type: 'order.placed', action: 'order_place', user_id: 'u-0', resource_type: 'order', severity: 'MEDIUM', description: 'Order 0 placed',
      details: { 'service.name': 'shop', total: 0, 'otel.scope.name': 'shop.audit', 'otel.scope.version': '1.0.0' },
    });
  });
});
