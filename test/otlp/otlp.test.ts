// POST /v1/logs against the real server on a loopback socket: a Collector-shaped request
// (protobuf, gzip, several resources and scopes, one bad record), the mapping onto events, the
// OTLP answers (partialSuccess, protobuf for protobuf, Status for errors), and idempotent retries.
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultInjector } from '../support/faults.ts';
import { bodyOf, createTestService, type ApiBody } from '../support/service.ts';
import { attrs, decodeResponse, toProtobuf } from '../support/otlp.ts';
import { startService, type RunningService } from '../support/running-service.ts';

let svc: RunningService;
let token: string;
beforeAll(async () => {
  svc = await startService();
  token = await svc.token({ scope: 'audit:write audit:read', sub: 'otel-collector' });
});
afterAll(() => svc?.close());

const NOW_NS = BigInt(Date.now() - 60_000) * 1_000_000n;
const ns = (offsetMs: number) => String(NOW_NS + BigInt(offsetMs) * 1_000_000n + 123_456n);

/** What a Collector batches from two services: resources, scopes, records, one without audit.action. */
function collectorRequest() {
  return {
    resourceLogs: [
      {
        resource: { attributes: attrs({ 'service.name': 'billing', 'deployment.environment': 'prod' }) },
        scopeLogs: [{
          scope: { name: 'billing.audit', version: '2.1.0' },
          logRecords: [
            {
              timeUnixNano: ns(0), observedTimeUnixNano: ns(5), severityNumber: 17, severityText: 'ERROR',
              eventName: 'invoice.refunded', body: { stringValue: 'Refunded invoice inv-7' },
              traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174',
              attributes: attrs({ 'audit.action': 'invoice_refund', 'user.id': 'u-42', 'audit.resource.type': 'invoice', 'audit.resource.id': 'inv-7', 'client.address': '203.0.113.9', 'user_agent.original': 'curl/8', amount: 120.5, password: 'hunter2' }),
            },
            { timeUnixNano: ns(1), eventName: 'invoice.viewed', attributes: attrs({ 'user.id': 'u-42' }) }, // no audit.action
          ],
        }],
      },
      {
        resource: { attributes: attrs({ 'service.name': 'auth' }) },
        scopeLogs: [{
          scope: { name: 'auth' },
          logRecords: [
            { timeUnixNano: ns(2), severityNumber: 9, attributes: attrs({ 'event.name': 'user.login', 'audit.action': 'login', 'audit.outcome': 'failure', 'audit.severity': 'critical', 'user.id': 'u-7', attempts: 3 }) },
          ],
        }],
      },
    ],
  };
}

const post = (body: Uint8Array | string, headers: Record<string, string>) =>
  fetch(`${svc.url}/v1/logs`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, ...headers }, body });

async function storedEvents(): Promise<ApiBody<'get', '/api/v1/audit/activities'>['data']> {
  const res = await fetch(`${svc.url}/api/v1/audit/activities?limit=100`, { headers: { Authorization: `Bearer ${token}` } });
  return (await bodyOf(res, 'get', '/api/v1/audit/activities?limit=100')).data;
}

describe('POST /v1/logs with a Collector-shaped request (protobuf, gzip)', () => {
  let first: Response;
  beforeAll(async () => {
    first = await post(zlib.gzipSync(toProtobuf(collectorRequest())), {
      'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'gzip', 'User-Agent': 'OpenTelemetry Collector Contrib/0.120.0',
    });
  });

  it('answers 200 in protobuf with partialSuccess counting the refused record and saying which and why', async () => {
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('application/x-protobuf');
    const answer = decodeResponse(new Uint8Array(await first.arrayBuffer()));
    expect(answer.partialSuccess?.rejectedLogRecords).toBe('1');
    expect(answer.partialSuccess?.errorMessage).toMatch(/^1 of 3 log record\(s\) refused.*resourceLogs\[0\]\.scopeLogs\[0\]\.logRecords\[1\]: attribute audit\.action/);
  });

  it('stores the valid records mapped onto events: fields from eventName, attributes, severityNumber, body, time', async () => {
    const events = await storedEvents();
    expect(events).toHaveLength(2);
    const refund = events.find((e) => e.activity_type === 'invoice.refunded')!;
    expect(refund).toMatchObject({
      action: 'invoice_refund', user_id: 'u-42', resource_type: 'invoice', resource_id: 'inv-7', severity: 'HIGH',
      outcome: 'success', ip_address: '203.0.113.9', user_agent: 'curl/8', description: 'Refunded invoice inv-7',
      timestamp: new Date(Number(NOW_NS / 1_000_000n)).toISOString(),
    });
    expect(refund.details).toEqual({
      'service.name': 'billing', 'deployment.environment': 'prod', amount: 120.5, password: '[REDACTED]', severity_text: 'ERROR',
      trace_id: '5b8efff798038103d269b633813fc60c', span_id: 'eee19b7ec3c1b174', 'otel.scope.name': 'billing.audit', 'otel.scope.version': '2.1.0',
    });
    const login = events.find((e) => e.activity_type === 'user.login')!;
    // audit.severity wins over severityNumber; no ip/user agent taken from the collector's request.
    expect(login).toMatchObject({ action: 'login', outcome: 'failure', severity: 'CRITICAL', user_id: 'u-7', ip_address: '', user_agent: '' });
    expect(login.details).toEqual({ 'service.name': 'auth', attempts: 3, 'otel.scope.name': 'auth' });
  });

  it('stores nothing twice when the collector retries the request, in either encoding', async () => {
    const before = await svc.ids();
    const again = await post(zlib.gzipSync(toProtobuf(collectorRequest())), { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'gzip' });
    expect(again.status).toBe(200);
    const json = await post(JSON.stringify(collectorRequest()), { 'Content-Type': 'application/json' });
    expect(json.status).toBe(200);
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    const body = await bodyOf(json, 'post', '/v1/logs');
    expect(body.partialSuccess?.rejectedLogRecords).toBe('1');
    expect((await svc.ids()).sort()).toEqual(before.sort());
    // Ids are UUIDv7-shaped, carrying the event time.
    for (const id of before) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('answers {} to a request whose records are all stored, and takes audit.id as the id', async () => {
    const id = '0192f0c1-6c2e-7cc0-8a1e-3f5b1d2c4e5f';
    const req = { resourceLogs: [{ scopeLogs: [{ logRecords: [{ eventName: 'file.deleted', attributes: attrs({ 'audit.action': 'file_delete', 'audit.id': id }) }] }] }] };
    const res = await post(JSON.stringify(req), { 'Content-Type': 'application/json' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    expect(await svc.ids()).toContain(id);
  });
});

describe('POST /v1/logs errors, as OTLP/HTTP wants them (google.rpc.Status in the request encoding)', () => {
  it('401 without a token, JSON Status for JSON', async () => {
    const res = await fetch(`${svc.url}/v1/logs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ code: 16, message: expect.stringMatching(/bearer token/) });
  });

  it('403 for a token without audit:write, a protobuf Status for protobuf', async () => {
    const reader = await svc.token({ scope: 'audit:read' });
    const res = await fetch(`${svc.url}/v1/logs`, { method: 'POST', headers: { Authorization: `Bearer ${reader}`, 'Content-Type': 'application/x-protobuf' }, body: toProtobuf({ resourceLogs: [] }) });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes[0]).toBe(0x08); // field 1 (code), varint
    expect(bytes.toString('utf8')).toMatch(/audit:write/);
  });

  it('400 for a body that is not OTLP, 415 for another media type or compression, storing nothing', async () => {
    const before = (await svc.ids()).length;
    expect((await post(Buffer.from([0xff, 0xff, 0xff, 0x0f]), { 'Content-Type': 'application/x-protobuf' })).status).toBe(400);
    expect((await post('{"resourceLogs": {}}', { 'Content-Type': 'application/json' })).status).toBe(400);
    expect((await post('nope', { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' })).status).toBe(400);
    expect((await post('{}', { 'Content-Type': 'text/plain' })).status).toBe(415);
    expect((await post('{}', { 'Content-Type': 'application/json', 'Content-Encoding': 'br' })).status).toBe(415);
    expect((await svc.ids()).length).toBe(before);
  });

  it('413 for a gzip body that expands past 10 MiB', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(11 * 1024 * 1024, 0x20));
    const res = await post(bomb, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
    expect(res.status).toBe(413);
  });
});

describe('POST /v1/logs when the store cannot take the records', () => {
  it('answers 503 with Retry-After (retryable per OTLP) and stores nothing', async () => {
    const faults = new FaultInjector();
    const t = await createTestService({ AUDIT_SPOOL_MAX_BYTES: '0' }, { faults });
    try {
      faults.failStore();
      const res = await t.app.request('/v1/logs', {
        method: 'POST',
        headers: { Authorization: `Bearer ${await t.token()}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(collectorRequest()),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(await res.json()).toEqual({ code: 14, message: expect.stringMatching(/store is unavailable/) });
      faults.heal();
      expect(await t.count()).toBe(0);
    } finally {
      await t.close();
    }
  });
});
