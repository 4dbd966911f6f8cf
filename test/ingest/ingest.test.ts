import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestService, event, type TestService, bodyOf } from '../support/service.ts';

let t: TestService;
beforeAll(async () => {
  t = await createTestService();
});
afterAll(async () => t.close());

async function ids(res: Response): Promise<string[]> {
  expect(res.status).toBe(202);
  const body = await bodyOf(res, 'post', '/api/v1/audit/activities');
  expect(body.accepted).toBe(body.ids.length);
  return body.ids;
}

describe('POST /api/v1/audit/activities', () => {
  it('stores one object, a JSON array and NDJSON, and reads each back by id', async () => {
    const [one] = await ids(await t.post(event({ description: 'single' })));
    const arr = await ids(await t.post([event({ description: 'array 1' }), event({ description: 'array 2' })]));
    const nd = await ids(
      await t.post([event({ description: 'nd 1' }), event({ description: 'nd 2' }), event({ description: 'nd 3' })].map((e) => JSON.stringify(e)).join('\n') + '\n', {
        contentType: 'application/x-ndjson',
      }),
    );
    expect(arr).toHaveLength(2);
    expect(nd).toHaveLength(3);
    for (const [id, description] of [[one, 'single'], [arr[1], 'array 2'], [nd[2], 'nd 3']] as const) {
      const res = await t.get(`/api/v1/audit/activities/${id}`);
      expect(res.status).toBe(200);
      const got = await res.json();
      expect(got).toMatchObject({ id, description, tenant_id: 'acme', user_id: 'alice', severity: 'LOW', outcome: 'success' });
    }
  });

  it('fills user_id, tenant_id, request_id and user_agent from the token and the request', async () => {
    const [id] = await ids(await t.post(event(), { headers: { 'User-Agent': 'probe/1.0', 'X-Request-Id': 'req-abc-123' } }));
    const got = await (await t.get(`/api/v1/audit/activities/${id}`)).json();
    expect(got).toMatchObject({ user_id: 'alice', tenant_id: 'acme', user_agent: 'probe/1.0', request_id: 'req-abc-123' });
    expect(Date.parse(got.received_at)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('keeps every given field exactly, with millisecond UTC timestamps', async () => {
    const e = {
      id: 'A1B2C3D4-0000-4000-8000-000000000001',
      timestamp: '2025-03-04T05:06:07.891+02:00',
      activity_type: 'file.uploaded',
      severity: 'HIGH',
      action: 'file_upload',
      description: 'Uploaded q3.pdf',
      outcome: 'failure',
      user_id: 'bob',
      resource_type: 'file',
      resource_id: 'f-42',
      ip_address: '10.1.2.3',
      user_agent: 'svc/2',
      request_id: 'r-9',
      details: { filename: 'q3.pdf', size: 52133, nested: { list: [1, 'two', null] } },
    };
    const [id] = await ids(await t.post(e));
    expect(id).toBe(e.id.toLowerCase());
    const got = await (await t.get(`/api/v1/audit/activities/${id}`)).json();
    expect(got).toMatchObject({ ...e, id: e.id.toLowerCase(), timestamp: '2025-03-04T03:06:07.891Z', tenant_id: 'acme' });
  });

  it('stores the same id once, also across requests and inside one batch', async () => {
    const id = '00000000-0000-4000-8000-00000000beef';
    const before = await t.count();
    await ids(await t.post(event({ id, description: 'first' })));
    await ids(await t.post([event({ id, description: 'second' }), event({ id, description: 'third' })]));
    await Promise.all([t.post(event({ id })), t.post(event({ id })), t.post(event({ id }))]);
    expect(await t.count()).toBe(before + 1);
    const list = await (await t.get(`/api/v1/audit/activities?limit=1000`)).json();
    const matching = list.data.filter((e) => e.id === id);
    expect(matching).toHaveLength(1);
    expect(matching[0]!.description).toBe('first');
  });

  it('lets another tenant use the same id: idempotency is per tenant', async () => {
    const id = '00000000-0000-4000-8000-0000000000aa';
    const other = await t.token({ tenant: 'globex' });
    await ids(await t.post(event({ id })));
    await ids(await t.post(event({ id }), { token: other }));
    const a = await t.get(`/api/v1/audit/activities/${id}`);
    const b = await t.get(`/api/v1/audit/activities/${id}`, { token: other });
    expect((await a.json()).tenant_id).toBe('acme');
    expect((await b.json()).tenant_id).toBe('globex');
  });

  it('shares one insert between many concurrent requests and answers each only once stored', async () => {
    const before = await t.count();
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => t.post(event({ description: `concurrent ${i}` }))));
    for (const r of responses) expect(r.status).toBe(202);
    expect(await t.count()).toBe(before + 50);
    const batches = await t.services.metrics.ingestBatchSize.get();
    const count = batches.values.find((v) => v.metricName === 'audit_ingest_batch_size_count')!.value;
    const sum = batches.values.find((v) => v.metricName === 'audit_ingest_batch_size_sum')!.value;
    expect(sum / count).toBeGreaterThan(1); // batching happened: fewer inserts than requests
  });

  it('posting for another tenant needs audit:admin', async () => {
    const res = await t.post(event({ tenant_id: 'globex' }));
    expect(res.status).toBe(403);
    const admin = await t.token({ scope: 'audit:admin' });
    const [id] = await ids(await t.post(event({ tenant_id: 'globex' }), { token: admin }));
    const other = await t.token({ tenant: 'globex' });
    expect((await t.get(`/api/v1/audit/activities/${id}`, { token: other })).status).toBe(200);
  });
});
