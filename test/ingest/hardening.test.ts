// Findings of the first acceptance run, each pinned by a test: inputs that used to poison shared
// batches, wedge exports or slip past validation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRow } from '../../src/event/model.ts';
import { createTestService, event, type TestService, problemOf } from '../support/service.ts';

let t: TestService;
beforeAll(async () => {
  t = await createTestService();
});
afterAll(async () => t.close());

const row = (over: Partial<EventRow>): EventRow => ({
  id: crypto.randomUUID(), tenant_id: 'acme', timestamp: Date.now(), received_at: Date.now(), activity_type: 'user.login',
  severity: 'LOW', action: 'login', outcome: 'success', resource_type: '', user_agent: '', user_id: 'u', resource_id: '',
  ip_address: '', request_id: '', description: '', details: '{}', ...over,
});

describe('one bad request never fails the others sharing its insert', () => {
  it('a row the store refuses is quarantined alone (never dropped); the batch-mates are stored', async () => {
    const before = await t.count();
    const good = Array.from({ length: 20 }, () => t.services.writer.write([row({ tenant_id: 'victim' })]));
    // Bypasses validation on purpose: a value ClickHouse refuses (not a severity) in the same batch.
    const poison = t.services.writer.write([row({ severity: 'NOT_A_SEVERITY' })]);
    // Traffic goes on: the drainer tells a poison record from a refusing store by the record after it.
    const next = t.services.writer.write([row({ tenant_id: 'victim' })]);
    const results = await Promise.allSettled([...good, poison, next]);
    // Acknowledged once in the write-ahead log; the drainer finds the culprit and moves it aside.
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    // Until the culprit is found (failed inserts, retries with backoff) a flush that stops at the
    // first failed insert (what count() does) may read the table early: wait for the drain itself.
    expect(await t.services.writer.flush({ timeoutMs: 60_000 })).toBe(true);
    expect(await t.count()).toBe(before + 21);
    const quarantined = await t.services.metrics.registry.getSingleMetric('audit_spool_quarantined_events_total')!.get();
    expect(quarantined.values.reduce((n, v) => n + v.value, 0)).toBe(1);
  });
});

describe('values that validation must catch before the store sees them', () => {
  it('lone surrogates anywhere in an event are a 422, not a failed insert', async () => {
    for (const e of [event({ description: 'a\ud800b' }), event({ user_id: '\udc00' }), event({ details: { ['k\ud800']: 1 } }), event({ details: { deep: ['\ud83d'] } })]) {
      const res = await t.post(e);
      expect(res.status, JSON.stringify(e)).toBe(422);
    }
  });

  it('timestamps from 1970 to 1973 are stored exactly (not misread as packed dates)', async () => {
    const ts = ['1970-01-01T00:00:00.000Z', '1970-01-01T00:00:12.345Z', '1972-12-31T23:59:59.999Z', '1973-03-03T09:46:40.000Z'];
    const res = await t.post(ts.map((timestamp) => event({ timestamp })));
    expect(res.status).toBe(202);
    const { ids } = await res.json();
    for (const [i, id] of ids.entries()) {
      const got = await (await t.get(`/api/v1/audit/activities/${id}`)).json();
      expect(got.timestamp).toBe(ts[i]);
    }
  });

  it('details nested thousands deep are a 422 in JSON and NDJSON alike, not a 500', async () => {
    const deep = '{"d":'.repeat(5000) + '"x"' + '}'.repeat(5000); // built as text: JSON.stringify would overflow
    const json = `{"activity_type":"user.login","action":"login","details":${deep}}`;
    for (const contentType of ['application/json', 'application/x-ndjson']) {
      const res = await t.post(json, { contentType });
      expect(res.status, contentType).toBe(422);
      expect((await problemOf(res)).errors![0]!.message).toMatch(/nests deeper than 32/);
    }
    let ok: unknown = 'x';
    for (let i = 0; i < 30; i++) ok = { d: ok };
    expect((await t.post(event({ details: ok as Record<string, unknown> }))).status).toBe(202);
  });

  it('bidirectional override characters are refused in identifiers', async () => {
    expect((await t.post(event({ resource_id: '\u202eexe.pdf' }))).status).toBe(422);
    expect((await t.post(event({ action: 'rtl\u2066' }))).status).toBe(422);
  });

  it('counts every invalid event in the 422 detail, even past the 100 errors it lists', async () => {
    const res = await t.post(Array.from({ length: 500 }, () => event({ severity: 'NOPE' })));
    const body = await problemOf(res);
    expect(body.detail).toMatch(/^500 of 500 event\(s\) are invalid/);
    expect(body.errors).toHaveLength(100);
  });
});

describe('query parameters', () => {
  it('refuses unknown and empty filters instead of returning unfiltered data', async () => {
    for (const q of ['userid=alice', 'severity=', 'activity_type=', 'severity[]=LOW', 'limit=10&foo=bar']) {
      const res = await t.get(`/api/v1/audit/activities?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    expect((await t.get('/api/v1/audit/activities/recent?cursor=abc')).status).toBe(400);
  });

  it('q is case-insensitive beyond ASCII', async () => {
    expect((await t.post(event({ description: 'Prüfbericht ÄÖÜ exportiert' }))).status).toBe(202);
    const page = await (await t.get(`/api/v1/audit/activities?q=${encodeURIComponent('äöü')}`)).json();
    expect(page.data).toHaveLength(1);
  });
});

describe('methods', () => {
  it('answers a wrong method on a known path with 405 and Allow', async () => {
    const res = await t.app.request('/api/v1/audit/activities', { method: 'DELETE', headers: { Authorization: `Bearer ${await t.token()}` } });
    expect(res.status).toBe(405);
    // No HEAD under /api: reads must be audited GETs (test/query/access-log.test.ts).
    expect(res.headers.get('allow')).toBe('GET, POST');
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const health = await t.app.request('/healthz', { method: 'POST' });
    expect(health.status).toBe(405);
    expect((await t.app.request('/nope', { method: 'DELETE' })).status).toBe(404);
  });

  it('HEAD on export is refused (405) without wedging later exports; concurrent exports work', async () => {
    const head = await t.app.request('/api/v1/audit/export?format=csv', { method: 'HEAD', headers: { Authorization: `Bearer ${await t.token()}` } });
    expect(head.status).toBe(405);
    expect(head.headers.get('allow')).toBe('GET');
    const [a, b] = await Promise.all([t.get('/api/v1/audit/export?format=ndjson'), t.get('/api/v1/audit/export?format=csv')]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect((await a.text()).split('\n').filter(Boolean).length).toBeGreaterThan(0);
    expect((await b.text()).split('\n').length).toBeGreaterThan(1);
  });
});
