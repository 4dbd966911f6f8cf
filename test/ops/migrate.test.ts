import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { tableTtl } from '../../src/retention/policy.ts';
import { ENGINE_ARGS, Store } from '../../src/store/client.ts';
import { loadMigrations, migrate, renderStatements } from '../../src/store/migrate.ts';
import { testDataDir } from '../support/service.ts';

let store: Store;
const database = `m_${crypto.randomBytes(5).toString('hex')}`;
const ttl = (env: Record<string, string>) => tableTtl(loadConfig({ AUDIT_DATA_DIR: testDataDir(), ...env }));

beforeAll(async () => {
  store = await Store.open({ dataDir: testDataDir(), database });
});
afterAll(async () => store.close());

async function tableDdl(): Promise<string> {
  const rows = await store.query<{ q: string }>(
    'SELECT create_table_query AS q FROM system.tables WHERE database = {db:String} AND name = {t:String}',
    { db: database, t: 'audit_activities' },
  );
  return rows[0]!.q;
}

describe('migrations', () => {
  it('apply every file once, in order, and record them; a second run is a no-op', async () => {
    const files = loadMigrations();
    expect(files.map((m) => m.version)).toEqual([...files.map((m) => m.version)].sort((a, b) => a - b));
    const first = await migrate(store, { ttl: ttl({ AUDIT_ARCHIVE_ENABLED: 'false' }) });
    expect(first.applied).toEqual(files.map((m) => m.name));
    const ddlBefore = await tableDdl();
    const second = await migrate(store, { ttl: ttl({ AUDIT_ARCHIVE_ENABLED: 'false' }) });
    expect(second.applied).toEqual([]);
    expect(second.skipped).toEqual(files.map((m) => m.name));
    expect(second.ttlChanged).toBe(false);
    expect(await tableDdl()).toBe(ddlBefore);
    const recorded = await store.query<{ n: string }>(`SELECT count() AS n FROM ${store.table('schema_migrations')}`);
    expect(Number(recorded[0]!.n)).toBe(files.length);
  });

  it('the table is a month-partitioned MergeTree sorted by tenant then time', async () => {
    const ddl = await tableDdl();
    expect(ddl).toContain('ENGINE = MergeTree');
    expect(ddl).toContain('PARTITION BY toYYYYMM(timestamp)');
    expect(ddl).toContain('ORDER BY (tenant_id, timestamp, id)');
  });

  it('reconciles the per-severity TTL from the retention settings at the next start', async () => {
    await migrate(store, { ttl: ttl({ AUDIT_ARCHIVE_ENABLED: 'false' }) });
    expect(await tableDdl()).toContain("toDateTime(timestamp) + toIntervalDay(30) WHERE severity = 'LOW'");
    const r = await migrate(store, { ttl: ttl({ AUDIT_ARCHIVE_ENABLED: 'false', AUDIT_RETENTION_LOW: '7' }) });
    expect(r.ttlChanged).toBe(true);
    const ddl = await tableDdl();
    expect(ddl).toContain("toDateTime(timestamp) + toIntervalDay(7) WHERE severity = 'LOW'");
    expect(ddl).toContain("toDateTime(timestamp) + toIntervalDay(365) WHERE severity = 'CRITICAL'");
    expect(ddl).not.toContain('toIntervalDay(30)');
  });

  it('with archiving on, the table carries no delete TTL (the retention job archives first)', async () => {
    await migrate(store, { ttl: ttl({ AUDIT_ARCHIVE_ENABLED: 'true' }) });
    expect(await tableDdl()).not.toMatch(/\bTTL\b/);
    await migrate(store, { ttl: ttl({ AUDIT_ARCHIVE_ENABLED: 'false' }) });
    expect(await tableDdl()).toMatch(/\bTTL\b/);
  });

  it('the embedded engine starts with ENGINE_ARGS, so a mutation queues all its parts at once', async () => {
    const [name, value] = ENGINE_ARGS[0]!.replace(/^--/, '').split('=');
    const rows = await store.query<{ name: string; value: string }>(
      `SELECT name, value FROM system.server_settings WHERE name = {name:String}`, { name },
    );
    expect(rows).toEqual([{ name, value }]);
    expect(Number(value)).toBeGreaterThanOrEqual(16);
  });

  it('renders {{database}} and splits statements', () => {
    expect(renderStatements('CREATE TABLE {{database}}.a (x UInt8) ENGINE = Memory;\n-- c\nSELECT 1;\n', 'db')).toEqual([
      'CREATE TABLE `db`.a (x UInt8) ENGINE = Memory',
      'SELECT 1',
    ]);
  });
});
