// Child-process side of EngineWorker: one embedded engine (this process's only data directory),
// any number of databases in it, and the operations the sections run next to the engine.
import { loadConfig } from '../../src/config.ts';
import { tableTtl } from '../../src/retention/policy.ts';
import { Store } from '../../src/store/client.ts';
import { migrate } from '../../src/store/migrate.ts';
import { ingestOps } from '../sections/ingest.engine.ts';
import { queryOps } from '../sections/queries.engine.ts';
import { storageOps } from '../sections/storage.engine.ts';
import { generateRows } from './dataset.ts';

const dataDir = process.argv[2]!;
const stores = new Map<string, Store>();

export interface EngineContext {
  dataDir: string;
  /** The database's store, created and migrated (the real migration files) on first use. */
  store(database: string): Promise<Store>;
  /**
   * A database some other process (the service) created in this directory, opened as it is:
   * no migration, so what is measured is exactly the schema that process left.
   */
  existing(database: string): Promise<Store>;
}

const ctx: EngineContext = {
  dataDir,
  async store(database) {
    let s = stores.get(database);
    if (!s) {
      s = await Store.open({ dataDir, database });
      // Archiving on: the table carries no delete TTL, so generated rows of any age stay put.
      const config = loadConfig({ AUDIT_DATA_DIR: dataDir, CLICKHOUSE_DATABASE: database, AUDIT_JWT_SECRET: 'x'.repeat(32) });
      await migrate(s, { ttl: tableTtl(config) });
      stores.set(database, s);
    }
    return s;
  },
  async existing(database) {
    let s = stores.get(database);
    if (!s) {
      s = await Store.open({ dataDir, database });
      stores.set(database, s);
    }
    return s;
  },
};

export type EngineOp = (ctx: EngineContext, args: Record<string, unknown>) => Promise<unknown>;

const coreOps: Record<string, EngineOp> = {
  async ping() {
    return 'pong';
  },
  async version(c) {
    const s = await c.store('bench_meta');
    const r = await s.query<{ v: string }>('SELECT version() AS v');
    return r[0]!.v;
  },
  async query(c, a) {
    const s = await c.store(a.database as string);
    return s.query(a.sql as string, (a.params ?? {}) as Record<string, unknown>, 'bench');
  },
  async command(c, a) {
    const s = await c.store(a.database as string);
    await s.command(a.sql as string, (a.params ?? {}) as Record<string, unknown>, 'bench');
    return null;
  },
  async generate(c, a) {
    const s = await c.store(a.database as string);
    const t = performance.now();
    await generateRows(s, 'audit_activities', a.start as number, a.count as number, a.nowMs as number);
    return performance.now() - t;
  },
  /** Waits until no merge runs on the database (storage and timings of a settled table). */
  async waitMerges(c, a) {
    const s = await c.store(a.database as string);
    const deadline = Date.now() + ((a.timeoutMs as number | undefined) ?? 120_000);
    while (Date.now() < deadline) {
      const r = await s.query<{ n: string }>('SELECT count() AS n FROM system.merges WHERE database = {db:String}', { db: a.database });
      if (Number(r[0]!.n) === 0) return true;
      await new Promise((res) => setTimeout(res, 250));
    }
    return false;
  },
};

const ops: Record<string, EngineOp> = { ...coreOps, ...ingestOps, ...queryOps, ...storageOps };

process.on('message', async (m: { id: number; op: string; args: Record<string, unknown> }) => {
  if (m.op === 'close') {
    for (const s of stores.values()) await s.close().catch(() => {});
    process.send!({ id: m.id, ok: true, result: null }, () => process.exit(0));
    return;
  }
  const op = ops[m.op];
  try {
    if (!op) throw new Error(`unknown engine op "${m.op}"`);
    const result = await op(ctx, m.args);
    process.send!({ id: m.id, ok: true, result });
  } catch (err) {
    process.send!({ id: m.id, ok: false, error: err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err) });
  }
});
process.on('disconnect', () => process.exit(0));
