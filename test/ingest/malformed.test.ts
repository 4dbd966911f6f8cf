// A corpus of malformed ingest requests: each gets its 4xx problem+json and stores nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestService, event, problemOf, type TestService } from '../support/service.ts';

let t: TestService;
let baseline = 0;
beforeAll(async () => {
  t = await createTestService();
  expect((await t.post(event())).status).toBe(202);
  baseline = await t.count();
});
afterAll(async () => t.close());

const future = new Date(Date.now() + 10 * 60_000).toISOString();
const big = 'x'.repeat(70 * 1024);
const hundredWithOneBad = Array.from({ length: 100 }, (_, i) => (i === 41 ? event({ severity: 'URGENT' }) : event({ description: `ok ${i}` })));

interface Case {
  name: string;
  body: unknown;
  contentType?: string;
  status: number;
  /** Expected index/field in errors[], when the error is about one event. */
  at?: { index: number; field?: string };
}

const corpus: Case[] = [
  { name: 'missing activity_type', body: { action: 'login' }, status: 422, at: { index: 0, field: 'activity_type' } },
  { name: 'missing action', body: { activity_type: 'user.login' }, status: 422, at: { index: 0, field: 'action' } },
  { name: 'empty object', body: {}, status: 422, at: { index: 0 } },
  { name: 'activity_type not a string', body: event({ activity_type: 42 }), status: 422, at: { index: 0, field: 'activity_type' } },
  { name: 'non-dotted activity_type', body: event({ activity_type: 'login' }), status: 422, at: { index: 0, field: 'activity_type' } },
  { name: 'upper-case activity_type', body: event({ activity_type: 'User.Login' }), status: 422, at: { index: 0, field: 'activity_type' } },
  { name: 'activity_type with spaces', body: event({ activity_type: 'user. login' }), status: 422, at: { index: 0, field: 'activity_type' } },
  { name: 'bad severity', body: event({ severity: 'URGENT' }), status: 422, at: { index: 0, field: 'severity' } },
  { name: 'lower-case severity', body: event({ severity: 'low' }), status: 422, at: { index: 0, field: 'severity' } },
  { name: 'severity as number', body: event({ severity: 3 }), status: 422, at: { index: 0, field: 'severity' } },
  { name: 'bad outcome', body: event({ outcome: 'maybe' }), status: 422, at: { index: 0, field: 'outcome' } },
  { name: 'action empty', body: event({ action: '' }), status: 422, at: { index: 0, field: 'action' } },
  { name: 'action not a string', body: event({ action: ['a'] }), status: 422, at: { index: 0, field: 'action' } },
  { name: 'id not a UUID', body: event({ id: 'abc' }), status: 422, at: { index: 0, field: 'id' } },
  { name: 'timestamp not ISO', body: event({ timestamp: 'yesterday' }), status: 422, at: { index: 0, field: 'timestamp' } },
  { name: 'timestamp without zone', body: event({ timestamp: '2026-01-01T00:00:00' }), status: 422, at: { index: 0, field: 'timestamp' } },
  { name: 'timestamp as number', body: event({ timestamp: 1700000000000 }), status: 422, at: { index: 0, field: 'timestamp' } },
  { name: 'impossible date', body: event({ timestamp: '2026-02-31T00:00:00Z' }), status: 422, at: { index: 0, field: 'timestamp' } },
  { name: 'future timestamp (10 min)', body: event({ timestamp: future }), status: 422, at: { index: 0, field: 'timestamp' } },
  { name: 'timestamp before 1970', body: event({ timestamp: '1969-12-31T23:59:59Z' }), status: 422, at: { index: 0, field: 'timestamp' } },
  { name: 'details is an array', body: event({ details: [1, 2] }), status: 422, at: { index: 0, field: 'details' } },
  { name: 'details is a string', body: event({ details: 'x' }), status: 422, at: { index: 0, field: 'details' } },
  { name: 'unknown field', body: event({ severty: 'HIGH' }), status: 422, at: { index: 0, field: 'severty' } },
  { name: 'user_id with a newline', body: event({ user_id: 'a\nb' }), status: 422, at: { index: 0, field: 'user_id' } },
  { name: 'description with NUL', body: event({ description: 'a\u0000b' }), status: 422, at: { index: 0, field: 'description' } },
  { name: 'resource_id too long', body: event({ resource_id: 'r'.repeat(600) }), status: 422, at: { index: 0, field: 'resource_id' } },
  { name: 'one bad event in a batch of 100', body: hundredWithOneBad, status: 422, at: { index: 41, field: 'severity' } },
  { name: 'array holding a non-object', body: [event(), 'x'], status: 422, at: { index: 1 } },
  { name: 'JSON null', body: 'null', status: 422 },
  { name: 'JSON number', body: '42', status: 422 },
  { name: 'empty array', body: [], status: 422 },
  { name: 'broken JSON', body: '{"activity_type": "user.login", ', status: 400 },
  { name: 'empty body', body: '', status: 400 },
  { name: 'broken NDJSON line', body: `${JSON.stringify(event())}\n{oops}\n`, contentType: 'application/x-ndjson', status: 400, at: { index: 1 } },
  { name: 'NDJSON with an invalid event', body: `${JSON.stringify(event())}\n${JSON.stringify(event({ outcome: 'x' }))}\n`, contentType: 'application/x-ndjson', status: 422, at: { index: 1, field: 'outcome' } },
  { name: 'text/plain content type', body: JSON.stringify(event()), contentType: 'text/plain', status: 415 },
  { name: 'form content type', body: 'activity_type=user.login', contentType: 'application/x-www-form-urlencoded', status: 415 },
  { name: 'no content type', body: JSON.stringify(event()), contentType: '', status: 415 },
  { name: 'oversize event (70 KiB description)', body: [event(), event({ details: { blob: big } })], status: 413, at: { index: 1 } },
  { name: 'oversize batch (10,001 events)', body: Array.from({ length: 10_001 }, () => event()), status: 413 },
  { name: 'oversize request (11 MiB)', body: Array.from({ length: 200 }, () => event({ details: { blob: 'y'.repeat(56 * 1024) } })), status: 413 },
  { name: 'invalid UTF-8', body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), status: 400 },
];

describe('malformed ingest corpus', () => {
  it('has at least 30 cases', () => expect(corpus.length).toBeGreaterThanOrEqual(30));

  for (const c of corpus) {
    it(`${c.name} → ${c.status}, nothing stored`, async () => {
      const body = Buffer.isBuffer(c.body) || typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
      const headers: Record<string, string> = {};
      const res = await t.app.request('/api/v1/audit/activities', {
        method: 'POST',
        headers: { Authorization: `Bearer ${await t.token()}`, ...(c.contentType === '' ? {} : { 'Content-Type': c.contentType ?? 'application/json' }), ...headers },
        body: body as string,
      });
      expect(res.status).toBe(c.status);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const problem = await problemOf(res);
      expect(problem.status).toBe(c.status);
      expect(problem.type).toMatch(/^https:\/\/audithouse\.dev\/problems\//);
      expect(problem.detail.length).toBeGreaterThan(10);
      if (c.at) {
        expect(problem.errors, JSON.stringify(problem)).toBeDefined();
        expect(problem.errors!.some((e) => e.index === c.at!.index && (c.at!.field === undefined || e.field === c.at!.field)), JSON.stringify(problem.errors)).toBe(true);
      }
      expect(await t.count()).toBe(baseline);
    });
  }
});
