// Right to be forgotten on live rows: POST /api/v1/audit/erasure, against the real engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERASED, erasureMark, policyOf, streamParams } from '../../src/integrity/canonical.ts';
import { verifyChains } from '../../src/integrity/verify.ts';
import { bodyOf, createTestService, event, type ApiBody, type TestService } from '../support/service.ts';

type Page = ApiBody<'get', '/api/v1/audit/activities'>;
import type { EventRow } from '../../src/event/model.ts';

let t: TestService;
let admin: string;
beforeAll(async () => {
  // Reads are audited here: an audited lookup of the subject is one of the places they appear.
  t = await createTestService({ AUDIT_ACCESS_LOG_ENABLED: 'true' });
  admin = await t.token({ scope: 'audit:admin', sub: 'dpo' });
});
afterAll(async () => t.close());

const ALICE = { id: 'alice.smith-4711', ip: '203.0.113.77', ua: 'AliceBrowser/9.9 (AliceOS)', email: 'alice.smith@example.org' };
const BOB = { id: 'bob-0815', ip: '198.51.100.23', ua: 'BobAgent/1.0', email: 'bob@example.org' };

function erase(body: unknown, token = admin) {
  return t.app.request('/api/v1/audit/erasure', {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'User-Agent': 'dpo-console/1' },
    body: JSON.stringify(body),
  });
}

async function all(token?: string): Promise<Page['data']> {
  const res = await t.get('/api/v1/audit/activities?limit=1000', token ? { token } : {});
  expect(res.status).toBe(200);
  return (await res.json()).data;
}

/** Everything a reader can see, as one text: the list, every event by id, both exports, the summary (aggregates). */
async function visibleText(token?: string): Promise<string> {
  const o = token ? { token } : {};
  const list = await all(token);
  const byId = await Promise.all(list.map(async (e) => (await t.get(`/api/v1/audit/activities/${e.id}`, o)).text()));
  const exports = await Promise.all(['ndjson', 'csv'].map(async (format) => {
    const res = await t.get(`/api/v1/audit/export?format=${format}`, o);
    expect(res.status, await res.clone().text()).toBe(200);
    return res.text();
  }));
  const summary = await t.get('/api/v1/audit/summary?days=30&top=100', o);
  expect(summary.status).toBe(200);
  return JSON.stringify(list) + byId.join('') + exports.join('') + (await summary.text());
}

async function rawTableText(tenant: string): Promise<string> {
  let text = '';
  for await (const chunk of t.services.store.stream(`SELECT * FROM ${t.services.store.table('audit_activities')} WHERE tenant_id = {tenant:String}`, { tenant }, 'JSONEachRow')) text += chunk;
  return text;
}

describe('POST /api/v1/audit/erasure', () => {
  let bobBefore: Page['data'];
  type Summary = ApiBody<'get', '/api/v1/audit/summary'>;
  let summaryBefore: Summary;
  let otherTenantToken: string;

  beforeAll(async () => {
    const write = async (events: unknown[], o: { sub: string; ip: string; ua: string }, tenant = 'acme') => {
      const token = await t.token({ sub: o.sub, tenant });
      const res = await t.post(events, { token, headers: { 'User-Agent': o.ua, 'X-Forwarded-For': o.ip } });
      expect(res.status).toBe(202);
    };
    const alice = { sub: ALICE.id, ip: ALICE.ip, ua: ALICE.ua };
    const bob = { sub: BOB.id, ip: BOB.ip, ua: BOB.ua };
    // Alice acts: her id, IP and agent on the row, her email under a personal details key.
    await write([
      event({ ip_address: ALICE.ip, user_agent: ALICE.ua, details: { email: ALICE.email, plan: 'pro' } }),
      event({ activity_type: 'file.uploaded', action: 'upload', ip_address: ALICE.ip, user_agent: ALICE.ua, details: { file: 'q3.pdf', contact: { email: ALICE.email } } }),
    ], alice);
    // Bob acts on Alice (a personal resource) and on a file; an analyst's query names Alice in its filters.
    await write([
      event({ activity_type: 'user.updated', action: 'update', resource_type: 'user', resource_id: ALICE.id, ip_address: BOB.ip, user_agent: BOB.ua, details: { email: ALICE.email, changed: ['plan'] } }),
      event({ activity_type: 'file.downloaded', action: 'download', resource_type: 'file', resource_id: 'f-1', ip_address: BOB.ip, user_agent: BOB.ua, details: { email: BOB.email } }),
      // (Posted as report.queried: audit.* is the service's own namespace; the shape is an access record's.)
      event({ activity_type: 'report.queried', action: 'query', ip_address: BOB.ip, user_agent: BOB.ua, details: { filters: { user_id: ALICE.id, severity: ['HIGH'] } } }),
    ], bob);
    // The same user id in another tenant is another data subject.
    await write([event({ ip_address: ALICE.ip, user_agent: ALICE.ua, details: { email: ALICE.email } })], alice, 'globex');
    otherTenantToken = await t.token({ tenant: 'globex' });
    // An analyst looks Alice up: the read is audited (audit.accessed) with its filters.
    expect((await t.get(`/api/v1/audit/activities?user_id=${encodeURIComponent(ALICE.id)}`)).status).toBe(200);
    bobBefore = (await all()).filter((e) => e.user_id === BOB.id);
    expect(bobBefore).toHaveLength(3);
    const before = await visibleText();
    for (const s of [ALICE.id, ALICE.ip, ALICE.ua, ALICE.email]) expect(before).toContain(s);
    summaryBefore = await (await t.get('/api/v1/audit/summary?days=30&top=100')).json();
    expect(summaryBefore.top_users.map((u) => u.user_id)).toContain(ALICE.id);
    expect((await verifyChains(t.services.store, t.services.integrity.keys)).ok).toBe(true);
  });

  it('removes the subject from every live row, keeps others, records the erasure without the subject, and verify still passes', async () => {
    const res = await erase({ user_id: ALICE.id });
    expect(res.status).toBe(200);
    const result = await bodyOf(res, 'post', '/api/v1/audit/erasure');
    expect(result).toMatchObject({ tenant_id: 'acme', rows_erased: 5, as_actor: 2, as_resource: 1, as_mention: 2 });
    expect(result.aggregate_rows).toBeGreaterThanOrEqual(2); // a per-user and a per-resource row at least
    expect(result.subject_ref).toMatch(/^[0-9a-f]{64}$/);

    // Nowhere in what readers see (list and by id), nor in the stored rows.
    const after = await visibleText();
    for (const s of [ALICE.id, ALICE.ip, ALICE.ua, ALICE.email]) {
      expect(after).not.toContain(s);
      expect(await rawTableText('acme')).not.toContain(s);
    }
    // ClickHouse keeps every mutation's text: it must not hold the subject either.
    const mutations = await t.services.store.query<{ command: string }>(`SELECT command FROM system.mutations WHERE database = {db:String}`, { db: t.database });
    expect(mutations.length).toBeGreaterThan(0);
    for (const m of mutations) for (const s of [ALICE.id, ALICE.ip, ALICE.ua, ALICE.email]) expect(m.command).not.toContain(s);

    // Others untouched: Bob's own events are exactly as before, except the one about Alice.
    const bobAfter = (await all()).filter((e) => e.user_id === BOB.id);
    const untouched = (e: Record<string, unknown>) => e.activity_type !== 'user.updated' && e.activity_type !== 'report.queried';
    expect(bobAfter.filter(untouched)).toEqual(bobBefore.filter(untouched));
    const updated = bobAfter.find((e) => e.activity_type === 'user.updated')!;
    expect(updated).toMatchObject({ user_id: BOB.id, ip_address: BOB.ip, user_agent: BOB.ua, resource_id: ERASED, details: { email: ERASED, changed: ['plan'] } });
    const accessed = bobAfter.find((e) => e.activity_type === 'report.queried')!;
    expect(accessed.details).toEqual({ filters: { user_id: ERASED, severity: ['HIGH'] } });
    const aliceRows = (await all()).filter((e) => e.user_id === ERASED);
    expect(aliceRows).toHaveLength(2);
    for (const e of aliceRows) expect(e).toMatchObject({ ip_address: ERASED, user_agent: ERASED });
    expect(aliceRows.map((e) => e.details)).toEqual(expect.arrayContaining([{ email: ERASED, plan: 'pro' }, { file: 'q3.pdf', contact: { email: ERASED } }]));

    // The erasure is itself an audit event, naming the subject only by its pseudonym.
    const record = (await all()).find((e) => e.id === result.erasure_id)!;
    expect(record).toMatchObject({ activity_type: 'audit.erasure', severity: 'HIGH', user_id: 'dpo', resource_type: 'data_subject', resource_id: result.subject_ref });
    expect(record.details).toEqual({ subject_ref: result.subject_ref, rows: 5, as_actor: 2, as_resource: 1, as_mention: 2, restored_rows: 0, archives: 0, archived_rows: 0 });

    // The aggregates agree: Alice's counts now stand under [ERASED], Bob's are as they were.
    const summaryAfter = await (await t.get('/api/v1/audit/summary?days=30&top=100')).json();
    const count = (s: Summary, id: string) => s.top_users.find((u) => u.user_id === id)?.count ?? 0;
    expect(count(summaryAfter, ERASED)).toBe(count(summaryBefore, ALICE.id) + count(summaryBefore, ERASED));
    expect(count(summaryAfter, BOB.id)).toBe(count(summaryBefore, BOB.id));
    expect(summaryAfter.top_resources.map((r) => r.resource_id)).not.toContain(ALICE.id);

    // Another tenant's "alice" is someone else: untouched.
    const globex = await visibleText(otherTenantToken);
    for (const s of [ALICE.id, ALICE.ip, ALICE.ua, ALICE.email]) expect(globex).toContain(s);

    const report = await verifyChains(t.services.store, t.services.integrity.keys);
    expect(report.breaks).toEqual([]);
    expect(report).toMatchObject({ ok: true, erased_rows: 5 });
    // Both lookups of Alice (the posted one and the real audited read) now name nobody.
    const lookups = (await all()).filter((e) => ['audit.accessed', 'report.queried'].includes(e.activity_type as string) && (e.details as { filters?: { user_id?: string } }).filters?.user_id !== undefined);
    expect(lookups.map((e) => (e.details as { filters: { user_id: string } }).filters.user_id)).toEqual([ERASED, ERASED]);
    expect(lookups.map((e) => (e.details as { endpoint?: string }).endpoint)).toContain('GET /api/v1/audit/activities');
  });

  it('an erased row edited afterwards, or marked erased by someone else, fails verification', async () => {
    const store = t.services.store;
    const table = store.table('audit_activities');
    const erased = await store.query<{ id: string; user_agent: string }>(`SELECT toString(id) AS id, user_agent FROM ${table} WHERE erasure != '' AND user_id = {e:String} LIMIT 1`, { e: ERASED });
    await store.command(`ALTER TABLE ${table} UPDATE user_agent = 'Evil/1' WHERE id = {id:UUID} SETTINGS mutations_sync = 2`, { id: erased[0]!.id });
    expect((await verifyChains(store, t.services.integrity.keys, { tenant: 'acme' })).breaks).toEqual([expect.objectContaining({ kind: 'edited', event_id: erased[0]!.id })]);
    await store.command(`ALTER TABLE ${table} UPDATE user_agent = {ua:String} WHERE id = {id:UUID} SETTINGS mutations_sync = 2`, { id: erased[0]!.id, ua: erased[0]!.user_agent });
    expect((await verifyChains(store, t.services.integrity.keys, { tenant: 'acme' })).ok).toBe(true);
    // Hiding an edit of Bob's personal fields behind a copied erasure mark.
    const mark = await store.query<{ erasure: string }>(`SELECT erasure FROM ${table} WHERE erasure != '' LIMIT 1`);
    const bob = await store.query<{ id: string }>(`SELECT toString(id) AS id FROM ${table} WHERE user_id = {b:String} AND erasure = '' LIMIT 1`, { b: BOB.id });
    await store.command(`ALTER TABLE ${table} UPDATE user_id = 'someone-else', erasure = {m:String} WHERE id = {id:UUID} SETTINGS mutations_sync = 2`, { id: bob[0]!.id, m: mark[0]!.erasure });
    expect((await verifyChains(store, t.services.integrity.keys, { tenant: 'acme' })).breaks).toEqual([expect.objectContaining({ kind: 'edited', event_id: bob[0]!.id })]);
    await store.command(`ALTER TABLE ${table} UPDATE user_id = {b:String}, erasure = '' WHERE id = {id:UUID} SETTINGS mutations_sync = 2`, { id: bob[0]!.id, b: BOB.id });
    expect((await verifyChains(store, t.services.integrity.keys, { tenant: 'acme' })).ok).toBe(true);
    // A valid mark (made with the key) naming an erasure that was never recorded as an event.
    const row = await store.query<EventRow & { stream: string }>(
      `SELECT toString(id) AS id, tenant_id, resource_type, resource_id, user_id, ip_address, user_agent, details, toString(stream) AS stream
       FROM ${table} WHERE erasure != '' LIMIT 1`);
    const policy = policyOf(streamParams(t.services.integrity.keys.mac.id, t.services.config.integrity.piiDetailKeys, t.services.config.integrity.piiResourceTypes));
    const phantom = erasureMark(t.services.integrity.keys.mac, policy, row[0]!, '01a22500-0000-7000-8000-00000000dead');
    const saved = await store.query<{ erasure: string }>(`SELECT erasure FROM ${table} WHERE id = {id:UUID}`, { id: row[0]!.id });
    await store.command(`ALTER TABLE ${table} UPDATE erasure = {m:String} WHERE id = {id:UUID} SETTINGS mutations_sync = 2`, { id: row[0]!.id, m: phantom });
    expect((await verifyChains(store, t.services.integrity.keys, { tenant: 'acme' })).breaks).toEqual([
      expect.objectContaining({ kind: 'edited', event_id: row[0]!.id, detail: expect.stringContaining('never recorded') }),
    ]);
    await store.command(`ALTER TABLE ${table} UPDATE erasure = {m:String} WHERE id = {id:UUID} SETTINGS mutations_sync = 2`, { id: row[0]!.id, m: saved[0]!.erasure });
    expect((await verifyChains(store, t.services.integrity.keys, { tenant: 'acme' })).ok).toBe(true);
  });

  it('an admin may erase in another tenant with tenant_id; a second erasure of the same subject finds nothing', async () => {
    const res = await erase({ user_id: ALICE.id, tenant_id: 'globex' });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ tenant_id: 'globex', rows_erased: 1 });
    const globex = await visibleText(otherTenantToken);
    for (const s of [ALICE.id, ALICE.ip, ALICE.ua, ALICE.email]) expect(globex).not.toContain(s);
    const again = await erase({ user_id: ALICE.id });
    expect(await again.json()).toMatchObject({ rows_erased: 0 });
    expect((await verifyChains(t.services.store, t.services.integrity.keys)).ok).toBe(true);
  });

  it('refuses non-admins (403) and bad bodies (400) as problem+json, changing nothing', async () => {
    await t.services.accessLog?.flush();
    const before = await t.count();
    const writer = await t.token({ scope: 'audit:read audit:write' });
    const forbidden = await erase({ user_id: BOB.id }, writer);
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('content-type')).toContain('application/problem+json');
    for (const body of [{}, { user_id: '' }, { user_id: ERASED }, { user_id: BOB.id, extra: 1 }, { user_id: 'x'.repeat(300) }]) {
      const res = await erase(body);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    const malformed = await t.app.request('/api/v1/audit/erasure', { method: 'POST', headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' }, body: '{"user_id":' });
    expect(malformed.status).toBe(400);
    expect(await t.count()).toBe(before);
    expect((await all()).filter((e) => e.user_id === BOB.id)).toHaveLength(3);
  });
});
