// Hash chains, signed checkpoints, retention cuts and verification, against the real engine.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CompactSign, exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/index.ts';
import { CANON_VERSION, canonicalEvent, maskDetails, sealEvent, streamParams, policyOf } from '../../src/integrity/canonical.ts';
import { CHECKPOINT_TYP } from '../../src/integrity/checkpoints.ts';
import { deleteWithCuts } from '../../src/integrity/cuts.ts';
import { loadIntegrityKeys, macKeys } from '../../src/integrity/keys.ts';
import { verifyChains, parseSince, type VerifyReport } from '../../src/integrity/verify.ts';
import { bodyOf, createTestService, event, testDataDir, type TestService, problemOf } from '../support/service.ts';
import { FaultInjector } from '../support/faults.ts';
import { chainRows, directWriter, row, startOn } from '../support/integrity.ts';
import type { EventRow } from '../../src/event/model.ts';

let t: TestService;
let admin: string;
beforeAll(async () => {
  t = await createTestService();
  admin = await t.token({ scope: 'audit:admin' });
});
afterAll(async () => t.close());

const table = () => t.services.store.table('audit_activities');
const verify = (opts: Parameters<typeof verifyChains>[2] = {}) => verifyChains(t.services.store, t.services.integrity.keys, opts);

/** The report of GET /api/v1/audit/integrity (typed by its route; `query` is appended as is). */
async function apiReport(query = '') {
  const res = await t.get(`/api/v1/audit/integrity${query}`, { token: admin });
  expect(res.status).toBe(200);
  return bodyOf(res, 'get', '/api/v1/audit/integrity');
}

async function post(events: unknown[], token?: string): Promise<string[]> {
  const res = await t.post(events, token ? { token } : {});
  expect(res.status).toBe(202);
  await t.services.writer.flush(); // these tests read the chain columns straight from the table
  return (await res.json()).ids;
}

/** JCS (RFC 8785) for strings, safe integers, null, arrays and objects: the reference the fast path must equal. */
function jcs(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(jcs).join(',')}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${jcs((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

describe('hash chains', () => {
  it('links every stored event: per tenant a gapless seq from 1, each a compact 64-bit link, nothing else stored', async () => {
    await post([event({ description: 'a' }), event({ description: 'b' }), event({ description: 'c' })]);
    await post([event({ description: 'd' })], await t.token({ tenant: 'globex' }));
    await post([event({ description: 'e' })]);
    const rows = await chainRows(t.services.store);
    const acme = rows.filter((r) => r.tenant_id === 'acme');
    expect(acme.map((r) => r.seq)).toEqual(acme.map((_, i) => i + 1));
    expect(new Set(acme.map((r) => r.stream)).size).toBe(1);
    // The link is the first 8 bytes of the row's HMAC; the previous link and the personal MAC are
    // not stored (the verifier walks the one, recomputes the other).
    for (const r of rows) expect(r).toMatchObject({ hash: expect.stringMatching(/^[0-9a-f]{16}$/), prev_hash: '' });
    const macs = await t.services.store.query<{ n: string }>(`SELECT count() AS n FROM ${table()} WHERE pii_mac != ''`);
    expect(Number(macs[0]!.n)).toBe(0);
    expect(new Set(acme.map((r) => r.hash)).size).toBe(acme.length);
    const globex = rows.filter((r) => r.tenant_id === 'globex');
    expect(globex.map((r) => r.seq)).toEqual([1]);
    expect(globex[0]!.hash).not.toBe(acme[0]!.hash); // each chain has its own genesis
    expect((await verify()).ok).toBe(true);
  });

  it('serializes canonically: sorted keys, ms times, personal values only through pii_mac (golden vector)', () => {
    const keys = macKeys(Buffer.alloc(32, 7));
    // Version 1 (streams written before the compact form): still verified, so pinned too.
    const policy = policyOf(streamParams(keys.id, ['email'], ['user'], CANON_VERSION));
    const e: EventRow = {
      id: '0192F0C1-6C2E-7CC0-8A1E-3F5B1D2C4E5F', tenant_id: 'acme', timestamp: 1767225600123, received_at: 1767225600456,
      activity_type: 'user.updated', severity: 'HIGH', action: 'update', outcome: 'success', resource_type: 'user',
      resource_id: 'bob', user_id: 'alice', ip_address: '10.0.0.1', user_agent: 'ua/1', request_id: 'r1',
      description: 'changed "email" \u00e9', details: '{"field":"email","email":"bob@example.com","n":1}',
    };
    const link = { stream: 'i-1/abc', seq: 42, prev_hash: 'ab'.repeat(32) };
    const d = maskDetails(e.details, policy);
    expect(d.masked).toBe('{"field":"email","email":null,"n":1}');
    expect(d.personal).toEqual([[['email'], 'bob@example.com']]);
    const sealed = sealEvent(keys, policy, e, link);
    const text = canonicalEvent(policy, e, link, sealed.pii_mac, d.masked);
    const reference = jcs({ ...JSON.parse(text) });
    expect(text).toBe(reference);
    expect(text).not.toContain('alice');
    expect(text).not.toContain('bob');
    expect(text).not.toContain('10.0.0.1');
    // Changing the canonical form silently would make every stored chain unverifiable.
    expect(sealed).toEqual({
      pii_mac: crypto.createHmac('sha256', keys.pii).update(JSON.stringify({ details: [[['email'], 'bob@example.com']], ip_address: '10.0.0.1', resource_id: 'bob', user_agent: 'ua/1', user_id: 'alice' })).digest('hex'),
      hash: crypto.createHmac('sha256', keys.chain).update(text).digest('hex'),
    });
    expect(sealed.hash).toBe(GOLDEN_HASH);
    // The compact form: the same canonical text with v 2 and a 16-hex previous link, cut to 8 bytes.
    const compact = policyOf(streamParams(keys.id, ['email'], ['user']));
    const compactLink = { ...link, prev_hash: 'ab'.repeat(8) };
    const c = sealEvent(keys, compact, e, compactLink);
    const compactText = canonicalEvent(compact, e, compactLink, c.pii_mac, d.masked);
    expect(JSON.parse(compactText)).toMatchObject({ v: 2, prev_hash: 'ab'.repeat(8) });
    expect(c).toEqual({ pii_mac: sealed.pii_mac, hash: crypto.createHmac('sha256', keys.chain).update(compactText).digest('hex').slice(0, 16) });
    expect(c.hash).toBe(GOLDEN_COMPACT_HASH);
  });

  it('GET /api/v1/audit/integrity verifies an untouched tenant and names an edited event precisely', async () => {
    const ids = await post([event({ description: 'keep 1' }), event({ description: 'to be edited' }), event({ description: 'keep 2' })]);
    const before = await apiReport();
    expect(before).toMatchObject({ ok: true, tenant_id: 'acme', breaks: [] });
    expect(before.rows).toBeGreaterThanOrEqual(3);
    const [target] = await chainRows(t.services.store, `id = {id:UUID}`, { id: ids[1] });
    await t.services.store.command(`ALTER TABLE ${table()} UPDATE description = 'nothing happened' WHERE id = {id:UUID} SETTINGS mutations_sync = 2`, { id: ids[1] });
    const after = await apiReport();
    expect(after.ok).toBe(false);
    expect(after.breaks).toEqual([{ tenant_id: 'acme', stream: target!.stream, seq: target!.seq, kind: 'edited', detail: expect.any(String), event_id: ids[1] }]);
    // Put it back: the rest of this file needs an intact store.
    await t.services.store.command(`ALTER TABLE ${table()} UPDATE description = 'to be edited' WHERE id = {id:UUID} SETTINGS mutations_sync = 2`, { id: ids[1] });
    expect((await apiReport()).ok).toBe(true);
  });

  it('an edit of a personal field (user_id) is caught through pii_mac', async () => {
    const [id] = await post([event({ user_id: 'carol', details: { email: 'carol@example.com' } })]);
    await t.services.store.command(`ALTER TABLE ${table()} UPDATE user_id = 'mallory' WHERE id = {id:UUID} SETTINGS mutations_sync = 2`, { id });
    const r = await verify({ tenant: 'acme' });
    expect(r.breaks).toEqual([expect.objectContaining({ kind: 'edited', event_id: id, detail: expect.stringContaining('personal') })]);
    await t.services.store.command(`ALTER TABLE ${table()} UPDATE user_id = 'carol' WHERE id = {id:UUID} SETTINGS mutations_sync = 2`, { id });
    expect((await verify({ tenant: 'acme' })).ok).toBe(true);
  });

  it('verifies while exports stream at the same time (each stream gets its own engine session)', async () => {
    await post(Array.from({ length: 50 }, (_, i) => event({ description: `concurrent ${i}` })));
    const [a, b, c] = await Promise.all([
      apiReport(),
      t.get('/api/v1/audit/export?format=ndjson'),
      t.get('/api/v1/audit/export?format=csv'),
    ]);
    expect(a.ok).toBe(true);
    expect([b.status, c.status]).toEqual([200, 200]);
    expect((await b.text()).split('\n').filter(Boolean).length).toBe(a.rows);
    expect((await c.text()).split('\n').filter(Boolean).length).toBeGreaterThan(a.rows);
  });

  it('refuses non-admins (403) and a bad since (400), as problem+json', async () => {
    const res = await t.get('/api/v1/audit/integrity');
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const bad = await t.get('/api/v1/audit/integrity?since=yesterday', { token: admin });
    expect(bad.status).toBe(400);
    expect((await problemOf(bad)).type).toMatch(/invalid-parameters$/);
    expect(parseSince('7d', 1_000_000_000_000)).toBe(1_000_000_000_000 - 7 * 86_400_000);
    expect(parseSince('2026-01-31')).toBe(Date.parse('2026-01-31T00:00:00Z'));
  });
});

describe('streams and writers', () => {
  it('a restart continues in a new stream; old and new chains both verify, the old one sealed', async () => {
    const s1 = await startOn(t.database);
    await s1.writer.write([row({ tenant_id: 'restart' }), row({ tenant_id: 'restart' })]);
    const first = s1.integrity.chain.stream;
    await s1.shutdown();
    const s2 = await startOn(t.database);
    await s2.writer.write([row({ tenant_id: 'restart' })]);
    expect(s2.integrity.chain.stream).not.toBe(first);
    await s2.shutdown();
    const rows = await chainRows(t.services.store, `tenant_id = 'restart'`);
    expect(rows.filter((r) => r.stream === first).map((r) => r.seq)).toEqual([1, 2]);
    expect(rows.filter((r) => r.stream !== first).map((r) => r.seq)).toEqual([1]);
    const finals = await t.services.store.query<{ n: string }>(`SELECT count() AS n FROM ${t.services.store.table('integrity_checkpoints')} WHERE tenant_id = 'restart' AND kind = 'final'`);
    expect(Number(finals[0]!.n)).toBe(2);
    const r = await verify({ tenant: 'restart' });
    expect(r).toMatchObject({ ok: true, rows: 3, chains: 2 });
  });

  it('two writers (different instance ids) ingesting concurrently into one tenant: both chains verify', async () => {
    const keys = t.services.integrity.keys;
    const a = directWriter(t.services.store, keys, 'replica-a');
    const b = directWriter(t.services.store, keys, 'replica-b');
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      writes.push(a.writer.write([row({ tenant_id: 'shared' }), row({ tenant_id: 'shared' })]));
      writes.push(b.writer.write([row({ tenant_id: 'shared' })]));
      if (i % 10 === 0) writes.push(a.checkpointer.checkpoint(), b.checkpointer.checkpoint());
    }
    await Promise.all(writes);
    await Promise.all([a.close(), b.close()]);
    const rows = await chainRows(t.services.store, `tenant_id = 'shared'`);
    expect(rows).toHaveLength(120);
    const streams = [...new Set(rows.map((r) => r.stream))].sort();
    expect(streams).toEqual([a.chain.stream, b.chain.stream].sort());
    expect(streams.map((s) => s.split('/')[0]).sort()).toEqual(['replica-a', 'replica-b']);
    expect(await verify({ tenant: 'shared' })).toMatchObject({ ok: true, rows: 120, chains: 2 });
  });

  it('events acknowledged through the spool in a store outage are chained when replayed, and verify', async () => {
    const faults = new FaultInjector();
    const database = `t_${crypto.randomBytes(6).toString('hex')}`;
    const s = await startOn(database, { AUDIT_SPOOL_MAX_BYTES: String(4 * 1024 * 1024) }, { faults });
    try {
      await s.writer.write([row({ tenant_id: 'spooled' })]);
      faults.failStore();
      const acked = await Promise.all([0, 1, 2].map(() => s.writer.write([row({ tenant_id: 'spooled' }), row({ tenant_id: 'spooled' })])));
      expect(acked.every((r) => r.spooled)).toBe(true);
      faults.heal();
      const until = Date.now() + 20_000;
      while (s.writer.status().spool?.events !== 0 || s.writer.status().degraded) {
        if (Date.now() > until) throw new Error('the spool did not drain');
        await new Promise((r) => setTimeout(r, 50));
      }
      const rows = await chainRows(s.store, `tenant_id = 'spooled'`);
      expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(await verifyChains(s.store, s.integrity.keys, { tenant: 'spooled' })).toMatchObject({ ok: true, rows: 7, chains: 1 });
    } finally {
      await s.shutdown();
    }
  });

  it('a failed insert moves the chain to a new stream, so no seq is reused, and everything stored verifies', async () => {
    const w = directWriter(t.services.store, t.services.integrity.keys, 'flaky');
    await w.writer.write([row({ tenant_id: 'flaky' }), row({ tenant_id: 'flaky' })]);
    await w.checkpointer.checkpoint();
    const before = w.chain.stream;
    // An enum value the table refuses: the whole insert fails, nothing of it is stored.
    await expect(w.chain.append([row({ tenant_id: 'flaky' }), row({ tenant_id: 'flaky', severity: 'BOGUS' })])).rejects.toThrow();
    expect(w.chain.stream).not.toBe(before);
    await w.writer.write([row({ tenant_id: 'flaky' })]);
    await w.close();
    const rows = await chainRows(t.services.store, `tenant_id = 'flaky'`);
    expect(rows.filter((r) => r.stream === before).map((r) => r.seq)).toEqual([1, 2]);
    expect(rows.filter((r) => r.stream !== before).map((r) => r.seq)).toEqual([1]);
    expect(await verify({ tenant: 'flaky' })).toMatchObject({ ok: true, rows: 3, chains: 2 });
  });
});

describe('checkpoints', () => {
  it('a checkpoint signed with another key fails verification; so does verifying with another trusted key', async () => {
    const w = directWriter(t.services.store, t.services.integrity.keys, 'signer');
    await w.writer.write([row({ tenant_id: 'signed' }), row({ tenant_id: 'signed' })]);
    await w.close();
    expect((await verify({ tenant: 'signed' })).ok).toBe(true);
    const [head] = (await chainRows(t.services.store, `tenant_id = 'signed'`)).slice(-1);

    // 1. A forged checkpoint: right kid, right payload, signed by an attacker's key.
    const attacker = crypto.generateKeyPairSync('ed25519');
    const kid = t.services.integrity.keys.signer!.kid;
    const payload = { at: Date.now(), hash: head!.hash, kind: 'head', seq: head!.seq, stream: head!.stream, tenant_id: 'signed', v: 1 };
    const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: 'EdDSA', kid, typ: CHECKPOINT_TYP }).sign(attacker.privateKey);
    await t.services.store.insertCompact('integrity_checkpoints', ['tenant_id', 'stream', 'seq', 'hash', 'kind', 'created_at', 'jws'],
      [['signed', head!.stream, head!.seq, head!.hash, 'head', (Date.now() / 1000).toFixed(3), jws]]);
    const forged = await verify({ tenant: 'signed' });
    expect(forged.breaks).toEqual([expect.objectContaining({ kind: 'bad-checkpoint', seq: head!.seq, stream: head!.stream, detail: expect.stringContaining('signature does not verify') })]);
    await t.services.store.command(`ALTER TABLE ${t.services.store.table('integrity_checkpoints')} DELETE WHERE jws = {jws:String} SETTINGS mutations_sync = 2`, { jws });
    expect((await verify({ tenant: 'signed' })).ok).toBe(true);

    // 2. The real checkpoints, checked against a pinned key set that holds another key.
    const other = crypto.generateKeyPairSync('ed25519');
    const file = path.join(testDataDir(), 'other-trusted.jwks');
    fs.writeFileSync(file, JSON.stringify({ keys: [await exportJWK(other.publicKey)] }));
    const pinned = await loadIntegrityKeys({ dataDir: testDataDir(), key: undefined, signingKey: undefined, trustedKeysFile: file }, { create: false });
    const wrong = await verifyChains(t.services.store, pinned, { tenant: 'signed' });
    expect(wrong.ok).toBe(false);
    expect(wrong.breaks[0]).toMatchObject({ kind: 'bad-checkpoint', detail: expect.stringContaining('not trusted') });
    // 3. Another MAC key (a lost or swapped AUDIT_INTEGRITY_KEY) is named as such, not as tampering everywhere.
    const otherMac = await loadIntegrityKeys({ dataDir: testDataDir(), key: crypto.randomBytes(32).toString('base64url'), signingKey: undefined, trustedKeysFile: undefined }, { create: false });
    const mismatch = await verifyChains(t.services.store, otherMac, { tenant: 'signed' });
    expect(mismatch.breaks).toEqual([expect.objectContaining({ seq: 1, detail: expect.stringContaining(`written under integrity key ${t.services.integrity.keys.mac.id}`) })]);
    // ... and the right public key, exported and pinned, verifies.
    fs.writeFileSync(file, JSON.stringify({ keys: [t.services.integrity.keys.publicJwk] }));
    const right = await loadIntegrityKeys({ dataDir: testDataDir(), key: undefined, signingKey: undefined, trustedKeysFile: file }, { create: false });
    expect((await verifyChains(t.services.store, right, { tenant: 'signed' })).ok).toBe(true);
  });

  it('a sealed chain: cutting its tail is truncated, appending to it is inserted', async () => {
    const w = directWriter(t.services.store, t.services.integrity.keys, 'sealed');
    for (let i = 0; i < 5; i++) await w.writer.write([row({ tenant_id: 'sealed' })]);
    await w.close();
    const rows = await chainRows(t.services.store, `tenant_id = 'sealed'`);
    const store = t.services.store;
    await store.command(`CREATE TABLE ${store.table('tail_backup')} AS ${table()}`);
    await store.command(`INSERT INTO ${store.table('tail_backup')} SELECT * FROM ${table()} WHERE tenant_id = 'sealed' AND seq >= 4`);
    await store.command(`ALTER TABLE ${table()} DELETE WHERE tenant_id = 'sealed' AND seq >= 4 SETTINGS mutations_sync = 2`);
    expect((await verify({ tenant: 'sealed' })).breaks).toEqual([expect.objectContaining({ kind: 'truncated', seq: 4, stream: rows[0]!.stream })]);
    await store.command(`INSERT INTO ${table()} SELECT * FROM ${store.table('tail_backup')}`);
    expect((await verify({ tenant: 'sealed' })).ok).toBe(true);
    // A row after the seal (a copy of the head moved one further).
    await store.command(`INSERT INTO ${table()} SELECT * REPLACE (seq + 1 AS seq, hash AS prev_hash, generateUUIDv4() AS id) FROM (SELECT * FROM ${table()} WHERE tenant_id = 'sealed' AND seq = 5)`);
    expect((await verify({ tenant: 'sealed' })).breaks).toEqual([expect.objectContaining({ kind: 'inserted', seq: 6 })]);
    await store.command(`ALTER TABLE ${table()} DELETE WHERE tenant_id = 'sealed' AND seq = 6 SETTINGS mutations_sync = 2`);
    await store.command(`DROP TABLE ${store.table('tail_backup')}`);
    expect((await verify({ tenant: 'sealed' })).ok).toBe(true);
  });
});

describe('streams written before the compact form', () => {
  it('still verify (full 32-byte links, prev_hash and pii_mac stored), and an edit, a swap and an erasure behave as before', async () => {
    const w = directWriter(t.services.store, t.services.integrity.keys, 'legacy-v1', undefined, CANON_VERSION);
    for (let i = 0; i < 4; i++) await w.writer.write([row({ tenant_id: 'legacy' }), row({ tenant_id: 'legacy' })]);
    await w.close();
    const rows = await chainRows(t.services.store, `tenant_id = 'legacy'`);
    expect(rows).toHaveLength(8);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prev_hash).toBe(rows[i - 1]!.hash);
    for (const r of rows) expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await verify({ tenant: 'legacy' })).toMatchObject({ ok: true, rows: 8 });
    const victim = rows[4]!;
    await t.services.store.command(`ALTER TABLE ${table()} UPDATE description = 'rewritten' WHERE id = {id:UUID} SETTINGS mutations_sync = 2`, { id: victim.id });
    expect((await verify({ tenant: 'legacy' })).breaks).toEqual([expect.objectContaining({ kind: 'edited', seq: victim.seq, event_id: victim.id })]);
  });
});

describe('retention cuts', () => {
  it('a deletion recorded by the retention job verifies; any other deletion in the middle is reported as deleted', async () => {
    const w = directWriter(t.services.store, t.services.integrity.keys, 'retention');
    // Severities interleave, so deleting LOW and MEDIUM removes links from the middle of the chain.
    for (let i = 0; i < 6; i++) await w.writer.write([0, 1, 2, 3].map((k) => row({ tenant_id: 'ret', severity: ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'][k]! })));
    await w.close();
    const store = t.services.store;
    const cut = await deleteWithCuts(store, t.services.integrity.keys.mac, `tenant_id = 'ret' AND severity IN ('LOW', 'MEDIUM')`, {});
    expect(cut).toMatchObject({ links: 12, cuts: 6 });
    const after = await verify({ tenant: 'ret' });
    expect(after).toMatchObject({ ok: true, rows: 12, cuts: 6 });
    // Deleting the rest of the oldest part: seq 1..8 gone, the cuts cover what retention took.
    await deleteWithCuts(store, t.services.integrity.keys.mac, `tenant_id = 'ret' AND seq <= 8`, {});
    expect(await verify({ tenant: 'ret' })).toMatchObject({ ok: true, rows: 8 });
    // A deletion nobody recorded.
    const rows = await chainRows(store, `tenant_id = 'ret'`);
    const victim = rows[3]!;
    await store.command(`ALTER TABLE ${table()} DELETE WHERE tenant_id = 'ret' AND seq = {s:UInt64} SETTINGS mutations_sync = 2`, { s: victim.seq });
    expect((await verify({ tenant: 'ret' })).breaks).toEqual([expect.objectContaining({ kind: 'deleted', seq: victim.seq, stream: victim.stream })]);
    // A forged cut for it (without the key, its MAC cannot be right).
    await store.insertCompact('integrity_cuts', ['tenant_id', 'stream', 'first_seq', 'last_seq', 'prev_hash', 'last_hash', 'run_id', 'created_at', 'mac'],
      [['ret', victim.stream, victim.seq, victim.seq, victim.prev_hash, victim.hash, 'forged', (Date.now() / 1000).toFixed(3), 'f'.repeat(64)]]);
    expect((await verify({ tenant: 'ret' })).breaks).toEqual([expect.objectContaining({ kind: 'deleted', seq: victim.seq, detail: expect.stringContaining('did not write') })]);
  });
});

describe('verify --since and the CLI', () => {
  it('--since checks the part of each chain stored since then', async () => {
    const w = directWriter(t.services.store, t.services.integrity.keys, 'window');
    await w.writer.write([row({ tenant_id: 'window' }), row({ tenant_id: 'window' }), row({ tenant_id: 'window' })]);
    await w.checkpointer.checkpoint();
    await new Promise((r) => setTimeout(r, 20));
    const since = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    await w.writer.write([row({ tenant_id: 'window' }), row({ tenant_id: 'window' })]);
    await w.close();
    expect(await verify({ tenant: 'window', since })).toMatchObject({ ok: true, rows: 2 });
    expect(await verify({ tenant: 'window' })).toMatchObject({ ok: true, rows: 5 });
  });

  it('audithouse verify exits 0 when chains verify and 1 with the break named; --public-key prints the JWKS', async () => {
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    const saved = { ...process.env };
    process.env.AUDIT_DATA_DIR = testDataDir();
    process.env.CLICKHOUSE_DATABASE = t.database;
    process.env.AUDIT_JWT_SECRET = 'x'.repeat(32);
    (process.stdout as { write: unknown }).write = (s: string) => (out.push(String(s)), true);
    try {
      expect(await main(['verify', '--tenant', 'acme'])).toBe(0);
      expect(out.join('')).toContain('OK: every chain verifies');
      out.length = 0;
      expect(await main(['verify', '--public-key'])).toBe(0);
      const jwks = JSON.parse(out.join('')) as { keys: Array<{ kid: string; crv: string; d?: string }> };
      expect(jwks.keys).toEqual([expect.objectContaining({ kid: t.services.integrity.keys.signer!.kid, crv: 'Ed25519' })]);
      expect(jwks.keys[0]!.d).toBeUndefined();
      out.length = 0;
      const [id] = await post([event({ description: 'cli target' })]);
      await t.services.writer.flush();
      await t.services.store.command(`ALTER TABLE ${table()} UPDATE action = 'rewritten' WHERE id = {id:UUID} SETTINGS mutations_sync = 2`, { id });
      expect(await main(['verify', '--tenant', 'acme', '--json'])).toBe(1);
      const report = JSON.parse(out.join('')) as VerifyReport;
      expect(report.breaks).toEqual([expect.objectContaining({ kind: 'edited', event_id: id })]);
      expect(await main(['verify', '--since', 'soon'])).toBe(2);
      await t.services.store.command(`ALTER TABLE ${table()} UPDATE action = 'login' WHERE id = {id:UUID} SETTINGS mutations_sync = 2`, { id });
    } finally {
      (process.stdout as { write: unknown }).write = write;
      process.env = saved;
    }
    // The engine is still usable after the command closed its own connection.
    expect((await verify({ tenant: 'acme' })).ok).toBe(true);
  });
});

const GOLDEN_HASH = '4b0a5bb1b5107830101770acf2cce5e66d6403eb89329ab89276b575e29dcddf';
const GOLDEN_COMPACT_HASH = '95592885a4a5cbfc';
