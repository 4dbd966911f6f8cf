// Versioned migrations: clickhouse/migrations/NNNN_verb_object.sql, applied in order, each
// recorded (with its checksum) in schema_migrations. Applying twice is a no-op. After the files,
// settings-derived schema (the retention TTL) is reconciled, so a changed AUDIT_RETENTION_* takes
// effect at the next start without a hand-written migration.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderForCluster } from '../cluster/render.ts';
import type { Logger } from '../logger.ts';
import { ACTIVITIES_TABLE } from './activity-rows.ts';
import type { Store } from './client.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../clickhouse/migrations/', import.meta.url));

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const files = fs.readdirSync(dir).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const migrations = files.map((file) => {
    const sql = fs.readFileSync(path.join(dir, file), 'utf8');
    return {
      version: Number(file.slice(0, 4)),
      name: file.replace(/\.sql$/, ''),
      sql,
      checksum: crypto.createHash('sha256').update(sql).digest('hex'),
    };
  });
  const seen = new Set<number>();
  for (const m of migrations) {
    if (seen.has(m.version)) throw new Error(`two migrations share version ${m.version}`);
    seen.add(m.version);
  }
  return migrations;
}

/** Replaces {{database}} with the quoted database name and splits into single statements. */
export function renderStatements(sql: string, database: string): string[] {
  const rendered = sql.replaceAll('{{database}}', `\`${database}\``);
  return rendered
    .split(/;\s*$/m)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s.length > 0);
}

export interface MigrateResult {
  applied: string[];
  skipped: string[];
  ttlChanged: boolean;
}

/** The bookkeeping tables every deployment has, before any migration file. */
export function bootstrapStatements(database: string): string[] {
  const db = `\`${database}\``;
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations
     (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
     ENGINE = MergeTree ORDER BY version`,
    `CREATE TABLE IF NOT EXISTS ${db}.audit_meta
     (key String, value String, updated_at DateTime64(3, 'UTC') DEFAULT now64(3))
     ENGINE = ReplacingMergeTree(updated_at) ORDER BY key`,
  ];
}

export interface MigrateTarget {
  database: string;
  /** Render for this ClickHouse cluster (ON CLUSTER, Replicated engines, Distributed tables). */
  cluster?: string | undefined;
}

/** Single-node statements as they are, or their cluster rendering. */
export function renderFor(target: MigrateTarget, statements: string[]): string[] {
  return target.cluster ? renderForCluster(statements, { cluster: target.cluster, database: target.database }) : statements;
}

/** Every statement a fresh deployment runs, in order (what `migrate --dry-run` prints). */
export function plan(target: MigrateTarget, migrations = loadMigrations()): Array<{ name: string; statements: string[] }> {
  return [
    { name: 'bootstrap', statements: renderFor(target, bootstrapStatements(target.database)) },
    ...migrations.map((m) => ({ name: m.name, statements: renderFor(target, renderStatements(m.sql, target.database)) })),
  ];
}

export async function migrate(
  store: Store,
  opts: {
    /** The delete TTL clause audit_activities must carry (retention/policy.ts tableTtl), null for none. */
    ttl: string | null;
    log?: Logger;
    migrations?: Migration[];
    cluster?: string | undefined;
  },
): Promise<MigrateResult> {
  const target: MigrateTarget = { database: store.database, cluster: opts.cluster };
  for (const statement of renderFor(target, bootstrapStatements(store.database))) await store.command(statement, {}, 'migrate');
  const applied = new Map(
    (await store.query<{ version: number; checksum: string }>(
      `SELECT version, any(checksum) AS checksum FROM ${store.table('schema_migrations')} GROUP BY version`,
    )).map((r) => [Number(r.version), r.checksum]),
  );

  const result: MigrateResult = { applied: [], skipped: [], ttlChanged: false };
  for (const m of opts.migrations ?? loadMigrations()) {
    const done = applied.get(m.version);
    if (done !== undefined) {
      if (done !== m.checksum) {
        opts.log?.warn({ migration: m.name }, 'a landed migration was edited; add a new migration instead');
      }
      result.skipped.push(m.name);
      continue;
    }
    for (const statement of renderFor(target, renderStatements(m.sql, store.database))) await store.command(statement, {}, 'migrate');
    await store.command(
      `INSERT INTO ${store.table('schema_migrations')} (version, name, checksum) VALUES ({v:UInt32}, {n:String}, {c:String})`,
      { v: m.version, n: m.name, c: m.checksum },
    );
    opts.log?.info({ migration: m.name }, 'migration applied');
    result.applied.push(m.name);
  }

  result.ttlChanged = await reconcileTtl(store, target, opts.ttl, opts.log);
  return result;
}

async function reconcileTtl(store: Store, target: MigrateTarget, ttl: string | null, log?: Logger): Promise<boolean> {
  const wanted = ttl ?? '';
  const rows = await store.query<{ value: string }>(
    `SELECT argMax(value, updated_at) AS value FROM ${store.table('audit_meta')} WHERE key = 'audit_activities.ttl' GROUP BY key`,
  );
  const current = rows[0]?.value;
  if (current === wanted) return false;
  // materialize_ttl_after_modify = 0: a metadata change, not a rewrite of every part at start-up;
  // parts pick the new TTL up as they merge, and the retention job enforces it meanwhile.
  const alter = wanted
    ? `ALTER TABLE ${store.table(ACTIVITIES_TABLE)} MODIFY TTL ${wanted} SETTINGS materialize_ttl_after_modify = 0`
    : current // only a table we gave a TTL has one to remove (the migration creates it without)
      ? `ALTER TABLE ${store.table(ACTIVITIES_TABLE)} REMOVE TTL`
      : undefined;
  if (alter) for (const statement of renderFor(target, [alter])) await store.command(statement, {}, 'migrate');
  await store.command(
    `INSERT INTO ${store.table('audit_meta')} (key, value) VALUES ('audit_activities.ttl', {v:String})`,
    { v: wanted },
  );
  log?.info({ ttl: wanted || null }, current === undefined ? 'retention TTL set' : 'retention TTL changed');
  return true;
}

/** The newest migration applied (archives record the schema their rows were written with). */
export async function schemaVersion(store: Store): Promise<number> {
  const rows = await store.query<{ v: number | string }>(`SELECT max(version) AS v FROM ${store.table('schema_migrations')}`);
  return Number(rows[0]?.v ?? 0);
}
