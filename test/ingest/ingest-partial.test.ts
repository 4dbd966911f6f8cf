// Partial acceptance on the native endpoint (?partial=true) and the NDJSON media types: the
// valid events of a batch are stored, each refused one is listed once with its index, and
// nothing refused is stored. Without the flag a request stays all-or-nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyOf, createTestService, event, problemOf, type TestService } from '../support/service.ts';

let t: TestService;
beforeAll(async () => {
  t = await createTestService();
});
afterAll(() => t?.close());

const post = (body: string, contentType: string, query = '?partial=true') =>
  t.token().then((token) => t.app.request(`/api/v1/audit/activities${query}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': contentType },
    body,
  }));

/** The 202 body of a ?partial=true post: IngestAccepted, whose rejected[] is then always present (the schema says so in words). */
async function partialBody(res: Response) {
  const { rejected, ...body } = await bodyOf(res, 'post', '/api/v1/audit/activities?partial=true');
  if (!rejected) throw new Error('a 202 to partial=true without rejected[]');
  return { ...body, rejected };
}

describe('POST /api/v1/audit/activities?partial=true', () => {
  it('stores the valid events of an NDJSON batch and lists each refused line once, by index and field', async () => {
    const before = await t.count();
    const lines = [
      JSON.stringify(event({ action: 'login-0' })),
      '{"activity_type": "user.login", "action": ',                      // not JSON
      JSON.stringify(event({ severity: 'SEVERE', outcome: 'maybe' })),      // two bad fields
      '',                                                                   // blank lines do not count
      JSON.stringify(event({ action: 'login-3' })),
      JSON.stringify(event({ details: { blob: 'x'.repeat(70_000) } })),     // over 64 KiB
      JSON.stringify(event({ tenant_id: 'globex' })),                       // another tenant, not admin
    ];
    const res = await post(lines.join('\n'), 'application/jsonlines');
    expect(res.status).toBe(202);
    const body = await partialBody(res);
    expect(body.accepted).toBe(2);
    expect(body.ids).toHaveLength(2);
    expect(body.rejected.map((r) => r.index)).toEqual([1, 2, 4, 5]);
    expect(body.rejected[0]!.message).toMatch(/^line 2: /);
    expect(body.rejected[1]).toMatchObject({ index: 2, field: 'severity' });
    expect(body.rejected[1]!.message).toMatch(/and 1 more problem/);
    expect(body.rejected[2]!.message).toMatch(/64 KiB/);
    expect(body.rejected[3]).toMatchObject({ index: 5, field: 'tenant_id' });
    expect(body.accepted + body.rejected.length).toBe(6);
    expect(await t.count()).toBe(before + 2);
    for (const id of body.ids) expect((await t.get(`/api/v1/audit/activities/${id}`)).status).toBe(200);
  });

  it('answers 202 with accepted 0 when every event is refused, storing nothing', async () => {
    const before = await t.count();
    const res = await post(JSON.stringify([{ action: 'x' }, { activity_type: 'Bad Type', action: 'y' }]), 'application/json');
    expect(res.status).toBe(202);
    const body = await partialBody(res);
    expect(body).toMatchObject({ accepted: 0, ids: [] });
    expect(body.rejected.map((r) => [r.index, r.field])).toEqual([[0, 'activity_type'], [1, 'activity_type']]);
    expect(await t.count()).toBe(before);
  });

  it('has an empty rejected list when all events are valid, and stores a repeated id once', async () => {
    const id = '0192f0c1-6c2e-7cc0-8a1e-3f5b1d2c4e5f';
    for (let i = 0; i < 2; i++) {
      const res = await post(JSON.stringify([event({ id }), event({ id })]), 'application/json');
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ accepted: 2, ids: [id, id], rejected: [] });
    }
    await t.count(); // flushes: a 202 means durable (maybe still in the write-ahead log), not yet in the table
    const rows = await t.services.store.query<{ n: string }>(`SELECT count() AS n FROM ${t.services.store.table('audit_activities')} WHERE id = {id:UUID}`, { id });
    expect(Number(rows[0]!.n)).toBe(1);
  });

  it('still refuses what concerns the whole request: a JSON body that does not parse (400), an unknown media type (415)', async () => {
    expect((await post('[{"activity_type":', 'application/json')).status).toBe(400);
    expect((await post('{}', 'text/plain')).status).toBe(415);
  });
});

describe('without partial=true', () => {
  it('stays all-or-nothing: one bad NDJSON line refuses the batch and stores nothing', async () => {
    const before = await t.count();
    const res = await post([JSON.stringify(event()), '{oops'].join('\n'), 'application/x-ndjson', '');
    expect(res.status).toBe(400);
    expect((await problemOf(res)).errors).toEqual([{ index: 1, message: expect.stringMatching(/^line 2: /) }]);
    const invalid = await post([JSON.stringify(event()), JSON.stringify(event({ severity: 'NOPE' }))].join('\n'), 'application/x-ndjson', '?partial=false');
    expect(invalid.status).toBe(422);
    expect(await t.count()).toBe(before);
  });

  it.each(['application/x-ndjson', 'application/jsonlines', 'application/x-jsonlines', 'application/jsonlines; charset=utf-8'])(
    'accepts %s as NDJSON',
    async (type) => {
      const res = await post(`${JSON.stringify(event())}\n${JSON.stringify(event())}\n`, type, '');
      expect(res.status).toBe(202);
      expect((await bodyOf(res, 'post', '/api/v1/audit/activities')).accepted).toBe(2);
    },
  );
});
