// The audit.* activity-type namespace belongs to the service (issue 16, item 1): a forged
// audit.accessed or audit.erasure would list beside the real ones and verify like them. Every
// ingest path refuses it for every token, admin included, naming the field, and stores nothing
// of it; the service's own audit.accessed (access log) and audit.erasure (erasure) still land,
// and a spool written before the rule (already acknowledged) still replays.
import crypto from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRow } from '../../src/event/model.ts';
import { Spool } from '../../src/spool/spool.ts';
import { bodyOf, createTestService, event, problemOf, testDataDir, type TestService } from '../support/service.ts';
import { attrs, decodeResponse, toProtobuf } from '../support/otlp.ts';

let t: TestService;
beforeAll(async () => {
  t = await createTestService();
});
afterAll(() => t?.close());

const RESERVED = ['audit.accessed', 'audit.erasure', 'audit.anything_new'];
const TOKENS = {
  writer: { scope: 'audit:write' },
  admin: { scope: 'audit:admin audit:write audit:read' },
};

/** Rows of `audit.*` types in the whole table (every tenant), once what was acknowledged is stored. */
async function reservedRows(svc: TestService = t): Promise<number> {
  await svc.services.writer.flush({ timeoutMs: 15_000, failOnError: true });
  const r = await svc.services.store.query<{ n: string }>(
    `SELECT count() AS n FROM ${svc.services.store.table('audit_activities')} WHERE startsWith(activity_type, 'audit.')`,
  );
  return Number(r[0]!.n);
}

async function postAs(who: keyof typeof TOKENS, body: string, contentType = 'application/json', query = ''): Promise<Response> {
  const token = await t.token(TOKENS[who]);
  return t.app.request(`/api/v1/audit/activities${query}`, {
    method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': contentType }, body,
  });
}

describe('POST /api/v1/audit/activities refuses audit.* activity types', () => {
  for (const who of Object.keys(TOKENS) as Array<keyof typeof TOKENS>) {
    for (const type of RESERVED) {
      it(`refuses ${type} from a ${who} token with 422 naming activity_type, and stores nothing`, async () => {
        const before = await t.count();
        const res = await postAs(who, JSON.stringify(event({ activity_type: type, user_id: 'victim' })));
        expect(res.status).toBe(422);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        const problem = await problemOf(res);
        expect(problem.errors).toEqual([expect.objectContaining({ index: 0, field: 'activity_type', message: expect.stringMatching(/reserved "audit\." namespace/) })]);
        expect(await t.count()).toBe(before);
        expect(await reservedRows()).toBe(0);
      });
    }
  }

  it('refuses a whole JSON array or NDJSON batch holding one, all-or-nothing', async () => {
    const before = await t.count();
    const batch = [event({ action: 'ok-0' }), event({ activity_type: 'audit.accessed' }), event({ action: 'ok-2' })];
    const array = await postAs('admin', JSON.stringify(batch));
    expect(array.status).toBe(422);
    expect((await problemOf(array)).errors).toEqual([expect.objectContaining({ index: 1, field: 'activity_type' })]);
    const ndjson = await postAs('writer', batch.map((e) => JSON.stringify(e)).join('\n'), 'application/x-ndjson');
    expect(ndjson.status).toBe(422);
    expect((await problemOf(ndjson)).errors).toEqual([expect.objectContaining({ index: 1, field: 'activity_type' })]);
    expect(await t.count()).toBe(before);
  });

  it('with ?partial=true stores the others and lists each audit.* event as refused on activity_type', async () => {
    const before = await t.count();
    const batch = [event({ action: 'ok-0' }), event({ activity_type: 'audit.erasure' }), event({ activity_type: 'audit.accessed' }), event({ action: 'ok-3' })];
    const res = await postAs('admin', batch.map((e) => JSON.stringify(e)).join('\n'), 'application/x-ndjson', '?partial=true');
    expect(res.status).toBe(202);
    const body = await bodyOf(res, 'post', '/api/v1/audit/activities?partial=true');
    expect(body.accepted).toBe(2);
    expect(body.rejected).toEqual([
      expect.objectContaining({ index: 1, field: 'activity_type', message: expect.stringMatching(/reserved/) }),
      expect.objectContaining({ index: 2, field: 'activity_type' }),
    ]);
    expect(await t.count()).toBe(before + 2);
    expect(await reservedRows()).toBe(0);
  });

  it('leaves names that only start like the namespace alone (audit_log.*, auditor.*)', async () => {
    const res = await postAs('writer', JSON.stringify([event({ activity_type: 'audit_log.viewed' }), event({ activity_type: 'auditor.assigned' })]));
    expect(res.status).toBe(202);
  });
});

describe('POST /v1/logs (OTLP) refuses audit.* activity types', () => {
  const request = () => {
    const ns = String(BigInt(Date.now() - 1_000) * 1_000_000n);
    return {
      resourceLogs: [{
        resource: { attributes: attrs({ 'service.name': 'forger' }) },
        scopeLogs: [{
          scope: { name: 'forger' },
          logRecords: [
            { timeUnixNano: ns, eventName: 'audit.accessed', attributes: attrs({ 'audit.action': 'read', 'user.id': 'victim' }) },
            { timeUnixNano: ns, attributes: attrs({ 'event.name': 'audit.erasure', 'audit.action': 'erasure' }) },
            { timeUnixNano: ns, eventName: 'user.login', attributes: attrs({ 'audit.action': 'login' }) },
          ],
        }],
      }],
    };
  };

  for (const who of Object.keys(TOKENS) as Array<keyof typeof TOKENS>) {
    it(`refuses them per record for a ${who} token (partialSuccess naming activity_type), storing only the rest`, async () => {
      const before = await t.count();
      const token = await t.token(TOKENS[who]);
      const res = await t.app.request('/v1/logs', {
        method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(request()),
      });
      expect(res.status).toBe(200);
      const body = await bodyOf(res, 'post', '/v1/logs');
      expect(body.partialSuccess?.rejectedLogRecords).toBe('2');
      expect(body.partialSuccess?.errorMessage).toMatch(/logRecords\[0\]: eventName or attribute event\.name \(activity_type\) is in the reserved "audit\." namespace/);
      expect(body.partialSuccess?.errorMessage).toMatch(/logRecords\[1\]: .*\(activity_type\)/);
      expect(await t.count()).toBe(before + 1);
      expect(await reservedRows()).toBe(0);
    });
  }

  it('refuses them in protobuf requests alike', async () => {
    const before = await t.count();
    const token = await t.token(TOKENS.admin);
    const res = await t.app.request('/v1/logs', {
      method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/x-protobuf' }, body: toProtobuf(request()),
    });
    expect(res.status).toBe(200);
    const answer = decodeResponse(new Uint8Array(await res.arrayBuffer()));
    expect(answer.partialSuccess?.rejectedLogRecords).toBe('2');
    expect(answer.partialSuccess?.errorMessage).toMatch(/\(activity_type\)/);
    expect(await t.count()).toBe(before + 1);
    expect(await reservedRows()).toBe(0);
  });
});

describe('the service still records its own audit.* events', () => {
  it('writes audit.accessed for a read and audit.erasure for an erasure', async () => {
    const svc = await createTestService({ AUDIT_ACCESS_LOG_ENABLED: 'true', AUDIT_ACCESS_LOG_WINDOW_MS: '60000' });
    try {
      expect((await svc.post(event({ user_id: 'bob' }))).status).toBe(202);
      const admin = await svc.token({ scope: 'audit:admin audit:read audit:write', sub: 'dpo' });
      expect((await svc.get('/api/v1/audit/activities?user_id=bob', { token: admin })).status).toBe(200);
      await svc.services.accessLog!.flush();
      const erasure = await svc.app.request('/api/v1/audit/erasure', {
        method: 'POST', headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ user_id: 'bob' }),
      });
      expect(erasure.status).toBe(200);
      await svc.services.writer.flush({ timeoutMs: 15_000, failOnError: true });
      const types = await svc.services.store.query<{ activity_type: string }>(
        `SELECT activity_type FROM ${svc.services.store.table('audit_activities')} WHERE startsWith(activity_type, 'audit.') ORDER BY activity_type`,
      );
      expect(types.map((r) => r.activity_type)).toEqual(['audit.accessed', 'audit.erasure']);
    } finally {
      await svc.close();
    }
  });

  it('replays a spool holding audit.* rows acknowledged before the rule (not refused again)', async () => {
    const database = `t_${crypto.randomBytes(6).toString('hex')}`;
    const now = Date.now();
    const row = (activity_type: string): EventRow => ({
      id: crypto.randomUUID(), tenant_id: 'acme', timestamp: now, received_at: now, activity_type, severity: 'LOW',
      action: 'read', outcome: 'success', resource_type: '', user_agent: 'ua', user_id: 'alice', resource_id: '',
      ip_address: '', request_id: '', description: 'acknowledged by an earlier version', details: '{}',
    });
    const rows = [row('audit.accessed'), row('audit.custom_import'), row('user.login')];
    const spool = await Spool.open({ dir: path.join(testDataDir(), 'spool', database), maxBytes: 1 << 20 });
    await spool.append([rows]);
    await spool.close();

    const svc = await createTestService({ CLICKHOUSE_DATABASE: database });
    try {
      const deadline = Date.now() + 15_000;
      while ((await svc.count()) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await svc.count()).toBe(3);
      expect(await reservedRows(svc)).toBe(2);
    } finally {
      await svc.close();
    }
  });
});
