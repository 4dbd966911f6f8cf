// Tamper fuzz: a seeded store (three writers, two tenants and an intruder-free history, an
// erasure, retention cuts, a live chain next to sealed ones) is copied for each trial, one random
// mutation is applied to the copy, and verification must name exactly the chain, the sequence
// number and the kind of break. Copies left unmodified must always verify.
// FUZZ_SEED and FUZZ_TRIALS reproduce or widen a run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eraseSubject } from '../../src/integrity/erasure.ts';
import { deleteWithCuts } from '../../src/integrity/cuts.ts';
import { verifyChains, type BreakKind, type VerifyReport } from '../../src/integrity/verify.ts';
import type { Store } from '../../src/store/client.ts';
import { createTestService, type TestService } from '../support/service.ts';
import { directWriter, row, startOn, storeOn } from '../support/integrity.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261129);
const TRIALS = Number(process.env.FUZZ_TRIALS ?? 60);
const TABLES = ['audit_activities', 'integrity_streams', 'integrity_checkpoints', 'integrity_cuts', 'audit_meta'];

/** mulberry32: small, seedable, good enough to pick mutations. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]! };
}

interface SeedRow {
  tenant_id: string;
  stream: string;
  seq: number;
  id: string;
  erased: number;
}

interface Expected {
  tenant_id: string;
  stream: string;
  seq: number;
  kind: BreakKind;
  what: string;
}

let t: TestService;
let store: Store;
let rows: SeedRow[];
/** Chains by "tenant\0stream": present rows in seq order, and the highest signed seq. */
let chains: Map<string, { rows: SeedRow[]; sealed: boolean; signed: number }>;
const chainKey = (tenant: string, stream: string) => `${tenant}\u0000${stream}`;

beforeAll(async () => {
  t = await createTestService();
  store = t.services.store;
  const keys = t.services.integrity.keys;
  // Two sealed writers ingesting concurrently into two tenants.
  const a = directWriter(store, keys, 'fuzz-a');
  const b = directWriter(store, keys, 'fuzz-b');
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < 30; i++) {
    writes.push(a.writer.write([row({ tenant_id: 'acme' }), row({ tenant_id: 'globex' }), row({ tenant_id: 'acme' })]));
    writes.push(b.writer.write([row({ tenant_id: 'acme' }), row({ tenant_id: 'globex' })]));
  }
  await Promise.all(writes);
  await Promise.all([a.close(), b.close()]);
  // An erasure, through a service that is then shut down (its chain holds the audit.erasure event).
  const s = await startOn(t.database);
  const erased = await eraseSubject(
    { store, writer: s.writer, keys, currentPii: { detailKeys: ['email', 'user_id'], resourceTypes: ['user'] } },
    { tenant: 'acme', userId: 'user-3', actor: { sub: 'dpo', ip: '127.0.0.1', userAgent: 'fuzz', requestId: 'r' } },
  );
  expect(erased.rows_erased).toBeGreaterThan(0);
  await s.shutdown();
  // Retention took some links out of the middle of globex's chains.
  const cut = await deleteWithCuts(store, keys.mac, `tenant_id = 'globex' AND severity = 'LOW'`, {});
  expect(cut.cuts).toBeGreaterThan(0);
  // A live chain: signed up to its head, not sealed.
  const c = directWriter(store, keys, 'fuzz-live');
  for (let i = 0; i < 5; i++) await c.writer.write([row({ tenant_id: 'acme' }), row({ tenant_id: 'acme' })]);
  await c.checkpointer.checkpoint();
  await c.writer.close();

  rows = (await store.query<SeedRow>(
    `SELECT tenant_id, toString(stream) AS stream, seq, toString(id) AS id, erasure != '' AS erased FROM ${store.table('audit_activities')}
     ORDER BY tenant_id, stream, seq SETTINGS output_format_json_quote_64bit_integers = 0`,
  )).map((r) => ({ ...r, seq: Number(r.seq) }));
  const signed = await store.query<{ tenant_id: string; stream: string; top: number; sealed: number }>(
    `SELECT tenant_id, toString(stream) AS stream, max(seq) AS top, countIf(kind = 'final') > 0 AS sealed
     FROM ${store.table('integrity_checkpoints')} GROUP BY tenant_id, stream SETTINGS output_format_json_quote_64bit_integers = 0`,
  );
  chains = new Map();
  for (const r of rows) {
    const k = chainKey(r.tenant_id, r.stream);
    if (!chains.has(k)) chains.set(k, { rows: [], sealed: false, signed: 0 });
    chains.get(k)!.rows.push(r);
  }
  for (const s of signed) {
    const ch = chains.get(chainKey(s.tenant_id, s.stream));
    if (ch) Object.assign(ch, { sealed: Number(s.sealed) > 0, signed: Number(s.top) });
  }
  expect(chains.size).toBe(6); // acme and globex x (fuzz-a, fuzz-b), acme x (erasure service, live)
  expect([...chains.values()].filter((c) => !c.sealed)).toHaveLength(1);
}, 120_000);

afterAll(async () => t.close());

async function copyOf(db: string): Promise<Store> {
  await store.command(`CREATE DATABASE \`${db}\``);
  for (const name of TABLES) {
    await store.command(`CREATE TABLE \`${db}\`.\`${name}\` AS ${store.table(name)}`);
    await store.command(`INSERT INTO \`${db}\`.\`${name}\` SELECT * FROM ${store.table(name)}`);
  }
  return storeOn(store, db);
}

const EDITS: Record<string, string> = {
  description: `concat(description, ' (amended)')`,
  action: `concat(action, '_x')`,
  activity_type: `if(activity_type = 'user.login', 'user.logout', 'user.login')`,
  severity: `if(severity = 'LOW', 'HIGH', 'LOW')`,
  outcome: `if(outcome = 'success', 'failure', 'success')`,
  user_id: `concat(user_id, 'x')`,
  ip_address: `concat(ip_address, '9')`,
  user_agent: `concat(user_agent, '+')`,
  resource_type: `concat(resource_type, 'z')`,
  resource_id: `concat(resource_id, '-2')`,
  request_id: `concat(request_id, '!')`,
  details: `if(details = '{}', '{"x":1}', concat('{"injected":true,', substring(details, 2)))`,
  received_at: `received_at + toIntervalMillisecond(1)`,
  timestamp: `timestamp + toIntervalMillisecond(1)`,
  // Compact rows store pii_mac only once erased and prev_hash never: an edit there sets a value.
  pii_mac: `if(pii_mac = '', repeat('ab', 32), concat(substring(pii_mac, 2), substring(pii_mac, 1, 1)))`,
  hash: `concat(substring(hash, 2), substring(hash, 1, 1))`,
  prev_hash: `if(prev_hash = '', repeat('cd', 8), concat(substring(prev_hash, 2), substring(prev_hash, 1, 1)))`,
  erasure: `if(erasure = '', '01a22500-0000-7000-8000-000000000000:${'ab'.repeat(32)}', concat(erasure, 'x'))`,
};

/** Applies one random mutation to the copy and says where and what verification must report. */
async function mutate(s: Store, r: ReturnType<typeof prng>): Promise<Expected> {
  const table = s.table('audit_activities');
  const sync = 'SETTINGS mutations_sync = 2';
  const kind = r.pick(['edit', 'delete', 'swap', 'insert', 'truncate'] as const);
  const keys = [...chains.keys()];
  if (kind === 'edit') {
    const victim = r.pick(rows);
    const field = r.pick(Object.keys(EDITS));
    const expected = { tenant_id: victim.tenant_id, stream: victim.stream, seq: victim.seq, kind: 'edited' as const, what: `edit ${field} of seq ${victim.seq}` };
    const where = { t: victim.tenant_id, id: victim.id };
    if (field === 'timestamp') {
      // A sort-key column: rewritten by delete and re-insert.
      await s.command(`CREATE TABLE ${s.table('tmp')} AS ${table}`);
      await s.command(`INSERT INTO ${s.table('tmp')} SELECT * REPLACE (${EDITS.timestamp} AS timestamp) FROM (SELECT * FROM ${table} WHERE tenant_id = {t:String} AND id = {id:UUID})`, where);
      await s.command(`ALTER TABLE ${table} DELETE WHERE tenant_id = {t:String} AND id = {id:UUID} ${sync}`, where);
      await s.command(`INSERT INTO ${table} SELECT * FROM ${s.table('tmp')}`);
    } else {
      await s.command(`ALTER TABLE ${table} UPDATE ${field} = ${EDITS[field]} WHERE tenant_id = {t:String} AND id = {id:UUID} ${sync}`, where);
    }
    return expected;
  }
  if (kind === 'delete') {
    const victim = r.pick(rows);
    const ch = chains.get(chainKey(victim.tenant_id, victim.stream))!;
    const last = ch.rows.at(-1)!.seq === victim.seq;
    await s.command(`ALTER TABLE ${table} DELETE WHERE tenant_id = {t:String} AND id = {id:UUID} ${sync}`, { t: victim.tenant_id, id: victim.id });
    return { tenant_id: victim.tenant_id, stream: victim.stream, seq: victim.seq, kind: last ? 'truncated' : 'deleted', what: `delete seq ${victim.seq}${last ? ' (the last)' : ''}` };
  }
  if (kind === 'swap') {
    const ch = chains.get(r.pick(keys.filter((k) => chains.get(k)!.rows.length >= 2)))!;
    const i = r.int(ch.rows.length);
    let j = r.int(ch.rows.length - 1);
    if (j >= i) j++;
    const [x, y] = [ch.rows[i]!, ch.rows[j]!];
    await s.command(
      `ALTER TABLE ${table} UPDATE seq = if(id = {a:UUID}, {sb:UInt64}, {sa:UInt64}) WHERE tenant_id = {t:String} AND id IN ({a:UUID}, {b:UUID}) ${sync}`,
      { t: x.tenant_id, a: x.id, b: y.id, sa: x.seq, sb: y.seq },
    );
    return { tenant_id: x.tenant_id, stream: x.stream, seq: Math.min(x.seq, y.seq), kind: 'reordered', what: `swap seq ${x.seq} and ${y.seq}` };
  }
  if (kind === 'truncate') {
    const ch = chains.get(r.pick(keys.filter((k) => chains.get(k)!.rows.length >= 2)))!;
    const from = ch.rows[1 + r.int(ch.rows.length - 1)]!;
    await s.command(`ALTER TABLE ${table} DELETE WHERE tenant_id = {t:String} AND stream = {s:String} AND seq >= {q:UInt64} ${sync}`, { t: from.tenant_id, s: from.stream, q: from.seq });
    return { tenant_id: from.tenant_id, stream: from.stream, seq: from.seq, kind: 'truncated', what: `drop the tail from seq ${from.seq}` };
  }
  // Forged rows: copies of a real row (the forger has no key to compute a valid hash).
  const model = r.pick(rows);
  const variant = r.pick(['duplicate', 'append', 'ghost-stream', 'unchained', 'new-tenant'] as const);
  const copy = (replace: string, params: Record<string, unknown> = {}) => s.command(
    `INSERT INTO ${table} SELECT * REPLACE (generateUUIDv4() AS id, concat(description, ' forged') AS description${replace}) FROM (SELECT * FROM ${table} WHERE tenant_id = {t:String} AND id = {id:UUID})`,
    { t: model.tenant_id, id: model.id, ...params },
  );
  if (variant === 'duplicate') {
    await copy('');
    return { tenant_id: model.tenant_id, stream: model.stream, seq: model.seq, kind: 'inserted', what: `forged duplicate of seq ${model.seq}` };
  }
  if (variant === 'append') {
    const sealed = [...chains.entries()].filter(([, c]) => c.sealed);
    const [, ch] = r.pick(sealed);
    const head = ch.rows.at(-1)!;
    const seq = ch.signed + 1;
    await s.command(
      `INSERT INTO ${table} SELECT * REPLACE (generateUUIDv4() AS id, {q:UInt64} AS seq, hash AS prev_hash, reverse(hash) AS hash) FROM (SELECT * FROM ${table} WHERE tenant_id = {t:String} AND id = {id:UUID})`,
      { t: head.tenant_id, id: head.id, q: seq },
    );
    return { tenant_id: head.tenant_id, stream: head.stream, seq, kind: 'inserted', what: `forged row appended at seq ${seq}` };
  }
  if (variant === 'ghost-stream') {
    await copy(`, 'ghost/forged' AS stream, toUInt64(1) AS seq`);
    return { tenant_id: model.tenant_id, stream: 'ghost/forged', seq: 1, kind: 'inserted', what: 'forged row in an unregistered stream' };
  }
  if (variant === 'unchained') {
    await copy(`, '' AS stream, toUInt64(0) AS seq`);
    return { tenant_id: model.tenant_id, stream: '', seq: 0, kind: 'inserted', what: 'forged row outside any chain' };
  }
  // A chain for a tenant the stream never served (tenant_id is a key column: the copy sets it).
  await s.command(
    `INSERT INTO ${table} SELECT * REPLACE (generateUUIDv4() AS id, 'intruder' AS tenant_id, toUInt64(1) AS seq) FROM (SELECT * FROM ${table} WHERE tenant_id = {t:String} AND id = {id:UUID})`,
    { t: model.tenant_id, id: model.id },
  );
  return { tenant_id: 'intruder', stream: model.stream, seq: 1, kind: 'inserted', what: 'forged chain for another tenant' };
}

describe('tamper fuzz', () => {
  it('the seeded store verifies', async () => {
    const report = await verifyChains(store, t.services.integrity.keys);
    expect(report.breaks).toEqual([]);
    expect(report).toMatchObject({ ok: true, chains: 6 });
    expect(report.cuts).toBeGreaterThan(0);
    expect(report.erased_rows).toBeGreaterThan(0);
  });

  it(`${TRIALS} trials of one random mutation each: every one is caught at the right place (seed ${SEED})`, async () => {
    const r = prng(SEED);
    const outcomes: string[] = [];
    const counts: Record<string, number> = {};
    for (let i = 0; i < TRIALS; i++) {
      const db = `${t.database}_f${i}`;
      const copy = await copyOf(db);
      try {
        // Every fifth copy stays untouched: unmodified stores always verify.
        const expected = i % 5 === 4 ? undefined : await mutate(copy, r);
        const report: VerifyReport = await verifyChains(copy, t.services.integrity.keys);
        if (!expected) {
          expect(report.breaks, `trial ${i}: untouched copy`).toEqual([]);
          counts.untouched = (counts.untouched ?? 0) + 1;
          continue;
        }
        const b = report.breaks.find((x) => x.tenant_id === expected.tenant_id && x.stream === expected.stream);
        const got = b ? `${b.kind}@${b.seq}` : 'nothing';
        outcomes.push(`${i}: ${expected.what} -> ${got}`);
        expect(report.ok, `trial ${i} (seed ${SEED}): ${expected.what}`).toBe(false);
        expect({ seq: b?.seq, kind: b?.kind }, `trial ${i} (seed ${SEED}): ${expected.what}; breaks: ${JSON.stringify(report.breaks)}`)
          .toEqual({ seq: expected.seq, kind: expected.kind });
        // Nothing else may be blamed.
        expect(report.breaks.filter((x) => x !== b), `trial ${i}: ${expected.what}`).toEqual([]);
        counts[expected.kind] = (counts[expected.kind] ?? 0) + 1;
      } finally {
        await store.command(`DROP DATABASE IF EXISTS \`${db}\``);
      }
    }
    if (process.env.FUZZ_VERBOSE) console.log(outcomes.join("\n"));
    // Every kind of mutation came up (the seed and trial count are chosen so that it does).
    expect(Object.keys(counts).sort()).toEqual(['deleted', 'edited', 'inserted', 'reordered', 'truncated', 'untouched']);
  }, 120_000);
});
