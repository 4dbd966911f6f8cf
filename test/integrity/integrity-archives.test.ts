// Integrity meets retention and archives, against the real engine and real archive files: the
// retention job's deletions verify (recorded cuts), an erasure rewrites the archives holding the
// subject as new signed archives in the chain, and both `verify` and `archive verify` pass.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { scanLayout } from '../../src/archive/chain.ts';
import { readArchive } from '../../src/archive/reader.ts';
import { restoreArchives } from '../../src/archive/restore.ts';
import { ERASED } from '../../src/integrity/canonical.ts';
import { verifyChains } from '../../src/integrity/verify.ts';
import { bodyOf } from '../support/api.ts';
import { DAY, createRetentionService, eventAt, expectVerified, type RetentionTestService } from '../support/retention.ts';

const open: RetentionTestService[] = [];
afterAll(async () => {
  for (const t of open) await t.close();
});

// No "/" in the values: ClickHouse writes it as "\/" in JSON, and a text search must not miss it.
const ALICE = { id: 'alice-archived-7', ip: '203.0.113.99', ua: 'AliceArchive 2.0 (AliceOS)', email: 'alice.archived@example.org' };
const BOB = { id: 'bob-archived-8', ip: '198.51.100.77', ua: 'BobArchive 1.0', email: 'bob.archived@example.org' };

const verify = (t: RetentionTestService) => verifyChains(t.services.store, t.services.integrity.keys);

/** The decompressed rows of one tenant in every data file of the archive directory (current and superseded), as text. */
function archiveText(dir: string, tenant = 'acme'): string {
  const layout = scanLayout(dir);
  return [...layout.data.values()]
    .flatMap((rel) => zlib.gunzipSync(fs.readFileSync(path.join(dir, rel))).toString('utf8').split('\n'))
    .filter((line) => line.includes(`"tenant_id":"${tenant}"`))
    .join('\n');
}

async function archivedRows(dir: string): Promise<Map<string, Record<string, unknown>>> {
  const rows = new Map<string, Record<string, unknown>>();
  const layout = scanLayout(dir);
  for (const rel of layout.data.values()) for await (const row of readArchive(path.join(dir, rel))) rows.set(`${row.tenant_id}|${row.id}`, row);
  return rows;
}

function erase(t: RetentionTestService, body: unknown) {
  return t.app.request('/api/v1/audit/erasure', {
    method: 'POST',
    headers: { Authorization: `Bearer ${t.adminToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('retention and archives', () => {
  it('the retention job records what it deletes: chains still verify, a deletion of a survivor does not', async () => {
    const t = await createRetentionService();
    open.push(t);
    const now = Date.now();
    // Interleaved: old LOW rows expire, HIGH rows and recent rows stay, all in one chain.
    const events = [];
    for (let i = 0; i < 12; i++) events.push(eventAt(now - 100 * DAY + i * 1000, i % 3 === 2 ? 'CRITICAL' : 'LOW', { description: `e${i}` }));
    for (let i = 0; i < 4; i++) events.push(eventAt(now - DAY + i, 'LOW', { description: `recent ${i}` }));
    await t.postEvents(events);
    expect((await verify(t)).ok).toBe(true);

    const run = await t.services.retention.run();
    expect(run.totals.deleted_rows).toBe(8);
    const report = await verify(t);
    expect(report.breaks).toEqual([]);
    expect(report).toMatchObject({ ok: true, rows: 8 });
    expect(report.cuts).toBeGreaterThan(0);
    await expectVerified(t.archiveDir);

    // The job again, with nothing new to delete: nothing changes.
    await t.services.retention.run();
    expect((await verify(t)).ok).toBe(true);

    // Someone deletes a survivor by hand: reported, at its place.
    const [victim] = await t.services.store.query<{ seq: string; stream: string }>(
      `SELECT toString(seq) AS seq, toString(stream) AS stream FROM ${t.services.store.table('audit_activities')} WHERE description = 'e5'`,
    );
    await t.services.store.command(`ALTER TABLE ${t.services.store.table('audit_activities')} DELETE WHERE description = 'e5' SETTINGS mutations_sync = 2`);
    expect((await verify(t)).breaks).toEqual([expect.objectContaining({ kind: 'deleted', seq: Number(victim!.seq), stream: victim!.stream })]);
  });

  it('with archiving off, what the TTL drops (even at insert) is recorded too, so chains verify', async () => {
    const t = await createRetentionService({ AUDIT_ARCHIVE_ENABLED: 'false' });
    open.push(t);
    const now = Date.now();
    // Imported events long expired: the TTL drops them by itself, no job involved.
    await t.postEvents([eventAt(now - 400 * DAY, 'LOW'), eventAt(now - DAY, 'LOW'), eventAt(now - 365 * DAY, 'MEDIUM'), eventAt(now - 2 * DAY, 'HIGH')]);
    await t.services.retention.run();
    const table = t.services.store.table('audit_activities');
    await t.services.store.command(`OPTIMIZE TABLE ${table} FINAL`);
    const left = await t.services.store.query<{ n: string }>(`SELECT count() AS n FROM ${table}`);
    expect(Number(left[0]!.n)).toBe(2);
    const report = await verify(t);
    expect(report.breaks).toEqual([]);
    expect(report).toMatchObject({ ok: true, rows: 2 });
  });

  it('erasure rewrites the archives holding the subject: gone from archives, restored copies and live rows; both verifications pass', async () => {
    const t = await createRetentionService();
    open.push(t);
    const now = Date.now();
    const old = now - 100 * DAY;
    const as = (who: typeof ALICE, extra: Record<string, unknown> = {}) => ({ user_id: who.id, ip_address: who.ip, user_agent: who.ua, ...extra });
    await t.postEvents([
      eventAt(old, 'LOW', as(ALICE, { details: { email: ALICE.email, plan: 'pro' } })),
      eventAt(old + 1, 'LOW', as(BOB, { details: { email: BOB.email } })),
      eventAt(old + 2, 'MEDIUM', as(BOB, { activity_type: 'user.updated', action: 'update', resource_type: 'user', resource_id: ALICE.id })),
      eventAt(old + 3, 'LOW', as(BOB)),
      eventAt(old, 'LOW', { ...as(ALICE), tenant_id: 'globex' }),
      eventAt(now - DAY, 'LOW', as(ALICE)), // still live
    ]);
    const run = await t.services.retention.run({ now: now + DAY });
    expect(run.totals.archives).toBeGreaterThanOrEqual(2);
    await expectVerified(t.archiveDir);
    const restored = await restoreArchives(t.services.store, t.archiveDir);
    expect(restored.failed).toEqual([]);
    const before = await archivedRows(t.archiveDir);
    for (const s of Object.values(ALICE)) expect(archiveText(t.archiveDir)).toContain(s);

    const res = await erase(t, { user_id: ALICE.id });
    expect(res.status).toBe(200);
    const result = await bodyOf(res, 'post', '/api/v1/audit/erasure');
    expect(result).toMatchObject({ rows_erased: 1, restored_rows_erased: 2, archived_rows_erased: 2 });
    expect(result.archives_rewritten).toBeGreaterThanOrEqual(1);

    // Gone from every archive file on disk (the superseded files are deleted, not kept).
    const text = archiveText(t.archiveDir);
    expect(text.length).toBeGreaterThan(0);
    for (const s of Object.values(ALICE)) expect(text, s).not.toContain(s);
    // Another tenant's "alice" is someone else: still archived as she was.
    for (const s of [ALICE.id, ALICE.ip, ALICE.ua]) expect(archiveText(t.archiveDir, 'globex')).toContain(s);
    let restoredText = '';
    for await (const chunk of t.services.store.stream(`SELECT * FROM ${t.services.store.table('audit_restored')} WHERE tenant_id = 'acme'`)) restoredText += chunk;
    for (const s of Object.values(ALICE)) expect(restoredText, s).not.toContain(s);
    const live = await t.get(`/api/v1/audit/activities?limit=1000`, { token: t.adminToken });
    const liveText = await live.text();
    for (const s of Object.values(ALICE)) expect(liveText).not.toContain(s);

    // Others untouched, row for row; Bob's event about Alice keeps Bob.
    const after = await archivedRows(t.archiveDir);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [key, row] of before) {
      const now2 = after.get(key)!;
      if (row.tenant_id === 'globex' || (row.user_id === BOB.id && row.resource_id !== ALICE.id)) expect(now2).toEqual(row);
    }
    const aboutAlice = [...after.values()].find((r) => r.activity_type === 'user.updated')!;
    expect(aboutAlice).toMatchObject({ user_id: BOB.id, ip_address: BOB.ip, user_agent: BOB.ua, resource_id: ERASED });
    expect(String(aboutAlice.erasure)).toMatch(new RegExp(`^${String(result.erasure_id)}:[0-9a-f]{64}$`));
    const aliceRow = [...after.values()].find((r) => r.tenant_id === 'acme' && r.user_id === ERASED)!;
    expect(JSON.parse(String(aliceRow.details))).toEqual({ email: ERASED, plan: 'pro' });

    // The archive chain: replacements signed and chained, superseded files gone; the live chains.
    await expectVerified(t.archiveDir);
    const report = await verify(t);
    expect(report.breaks).toEqual([]);
    expect(report.ok).toBe(true);

    // The retention job carries on with the rewritten chain, and a restore takes the replacements.
    await t.postEvents([eventAt(now - 90 * DAY, 'LOW', as(BOB))]);
    const next = await t.services.retention.run({ now: now + DAY });
    expect(next.totals.archives).toBe(1);
    await expectVerified(t.archiveDir);
    expect((await verify(t)).ok).toBe(true);
    const again = await restoreArchives(t.services.store, t.archiveDir);
    expect(again.failed).toEqual([]);
  });
});
