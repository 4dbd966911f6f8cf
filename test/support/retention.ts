// Shared pieces of the retention and archive tests: posting events at chosen times through the
// real API, and reading back what is live and what the archives hold.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect } from 'vitest';
import { scanLayout } from '../../src/archive/chain.ts';
import { loadPublicKeys } from '../../src/archive/keys.ts';
import { readArchive } from '../../src/archive/reader.ts';
import { verifyArchiveDir } from '../../src/archive/verify.ts';
import { createTestService, event, type TestService } from './service.ts';

export const DAY = 86_400_000;
export const SEVERITIES = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
/** Short retentions so a simulated year sees every severity expire. */
export const RETENTION_ENV = {
  AUDIT_RETENTION_LOW: '30',
  AUDIT_RETENTION_MEDIUM: '60',
  AUDIT_RETENTION_HIGH: '90',
  AUDIT_RETENTION_CRITICAL: '180',
};
export const DAYS: Record<string, number> = { LOW: 30, MEDIUM: 60, HIGH: 90, CRITICAL: 180 };

export interface Accepted {
  key: string; // tenant|id
  timestamp: number;
  severity: string;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface RetentionTestService extends TestService {
  archiveDir: string;
  adminToken: string;
  /** Posts events (as admin, so any tenant) and records them in the ledger. */
  postEvents(events: Array<Record<string, unknown>>): Promise<Accepted[]>;
  ledger: Map<string, Accepted>;
}

export async function createRetentionService(env: Record<string, string> = {}): Promise<RetentionTestService> {
  const archiveDir = tempDir('audithouse-archive-');
  const t = await createTestService({ AUDIT_ARCHIVE_LOCATION: archiveDir, ...RETENTION_ENV, ...env });
  const adminToken = await t.token({ scope: 'audit:admin audit:write audit:read' });
  const ledger = new Map<string, Accepted>();
  return Object.assign(t, {
    archiveDir,
    adminToken,
    ledger,
    async postEvents(events: Array<Record<string, unknown>>) {
      const res = await t.post(events, { token: adminToken });
      expect(res.status).toBe(202);
      await t.services.writer.flush(); // these tests look at the table itself, not through the API
      const { ids } = await res.json();
      return ids.map((id, i) => {
        const e = events[i]!;
        const a: Accepted = { key: `${e.tenant_id ?? 'acme'}|${id}`, timestamp: Date.parse(e.timestamp as string), severity: (e.severity as string) ?? 'LOW' };
        ledger.set(a.key, a);
        return a;
      });
    },
  });
}

export function eventAt(ts: number, severity: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return event({ timestamp: new Date(ts).toISOString(), severity, description: `at ${new Date(ts).toISOString()}`, ...extra });
}

/** tenant|id of every live row. */
export async function liveKeys(t: TestService): Promise<Set<string>> {
  const rows = await t.services.store.query<{ k: string }>(
    `SELECT concat(tenant_id, '|', toString(id)) AS k FROM ${t.services.store.table('audit_activities')}`,
  );
  return new Set(rows.map((r) => r.k));
}

/** tenant|id → how many archive files hold it. Reads every data file named by a manifest. */
export async function archivedKeyCounts(dir: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const layout = scanLayout(dir);
  for (const [, rel] of layout.manifests) {
    const m = JSON.parse(fs.readFileSync(path.join(dir, rel), 'utf8')) as { file: string };
    for await (const row of readArchive(path.join(dir, m.file))) {
      const k = `${row.tenant_id}|${row.id}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
  }
  return counts;
}

/** Verifies with only the public keys exported next to the archives; fails the test otherwise. */
export async function expectVerified(dir: string): Promise<void> {
  const keysDir = path.join(dir, 'keys');
  const keys = fs.existsSync(keysDir) ? await loadPublicKeys([keysDir]) : new Map();
  const report = await verifyArchiveDir(dir, { publicKeys: keys });
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
}

/** Rows still live whose retention ended before `now`. */
export async function liveExpired(t: TestService, now: number): Promise<number> {
  const params: Record<string, unknown> = {};
  const conds = SEVERITIES.map((s, i) => {
    params[`s${i}`] = s;
    params[`c${i}`] = now - DAYS[s]! * DAY;
    return `(severity = {s${i}:String} AND timestamp < fromUnixTimestamp64Milli({c${i}:Int64}))`;
  }).join(' OR ');
  const rows = await t.services.store.query<{ n: string }>(`SELECT count() AS n FROM ${t.services.store.table('audit_activities')} WHERE ${conds}`, params);
  return Number(rows[0]!.n);
}

/**
 * Retention services for one test file, each closed (and its archive directory removed) after
 * the test that opened it. Call at the top of the file.
 */
export function useRetentionServices(): (env?: Record<string, string>) => Promise<RetentionTestService> {
  const open: RetentionTestService[] = [];
  afterEach(async () => {
    for (const t of open.splice(0)) {
      await t.close();
      fs.rmSync(t.archiveDir, { recursive: true, force: true });
    }
  });
  return async (env = {}) => {
    const t = await createRetentionService(env);
    open.push(t);
    return t;
  };
}

/** Every accepted row is live or in exactly one archive, never both; nothing archived twice. */
export async function expectAccountedFor(t: RetentionTestService): Promise<{ live: Set<string>; archived: Map<string, number> }> {
  await expectVerified(t.archiveDir);
  const live = await liveKeys(t);
  const archived = await archivedKeyCounts(t.archiveDir);
  const lost = [...t.ledger.keys()].filter((k) => !live.has(k) && !archived.has(k));
  expect(lost, 'rows deleted without an archive').toEqual([]);
  const twice = [...archived].filter(([, n]) => n !== 1);
  expect(twice, 'rows in more than one archive').toEqual([]);
  const both = [...archived.keys()].filter((k) => live.has(k));
  expect(both, 'archived rows still live after the run').toEqual([]);
  return { live, archived };
}
