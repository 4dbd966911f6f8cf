// Renders the single-node migrations for a ClickHouse cluster, statement by statement.
//
// Naming: every table T of the single-node schema becomes a replicated local table `T_local` on
// every shard, plus a `Distributed` table named T over them, so the service's SQL (which names T)
// runs unchanged: reads fan out to all shards, inserts are routed by the sharding key.
// - Sharding key: cityHash64(tenant_id) where the table has a tenant_id column, so a tenant's rows
//   (and its integrity streams) live on one shard and per-tenant reads touch one shard's data;
//   rand() for the few tables without one.
// - Materialized views are per shard: they read T_local (what the shard receives) and write into
//   the target's T_local. Inserts through the Distributed table reach every shard's local table,
//   so each shard's views see exactly that shard's rows.
// - ALTERs go to T_local ON CLUSTER; column changes also to the Distributed table, whose
//   structure must match.
// - Engines: X MergeTree(args) → ReplicatedX MergeTree('/clickhouse/tables/{shard}/db/T_local', '{replica}', args).
// The single-node path never goes through this module.

export interface ClusterOptions {
  cluster: string;
  database: string;
}

const IDENT = '`?([A-Za-z_][A-Za-z0-9_]*)`?';
const QUALIFIED = `${IDENT}\\.${IDENT}`;

export const localName = (table: string) => `${table}_local`;

/** Tables whose rows must meet on one shard for a reason other than the tenant. */
const SHARDING_KEYS: Record<string, string> = {
  // Lease deduplication works within a shard: every attempt at a lease must land on the same one.
  audit_leases: 'cityHash64(name)',
  // The archive catalog is a ReplacingMergeTree read with FINAL, which merges within a shard:
  // every version of an archive's row, and its staged keys, must meet on one shard.
  audit_archives: 'cityHash64(seq)',
  audit_archive_keys: 'cityHash64(seq)',
};

function q(name: string): string {
  return `\`${name}\``;
}

/** Splits "ENGINE = SummingMergeTree((a, b))" into the family name and its argument text. */
function splitEngine(stmt: string): { before: string; family: string; args: string; after: string } | undefined {
  const m = /ENGINE\s*=\s*([A-Za-z]*MergeTree)\s*(\()?/i.exec(stmt);
  if (!m) return undefined;
  const start = m.index;
  let i = m.index + m[0].length;
  let args = '';
  if (m[2]) {
    let depth = 1;
    const argStart = i;
    while (i < stmt.length && depth > 0) {
      const ch = stmt[i]!;
      if (ch === "'") {
        i = stmt.indexOf("'", i + 1) + 1;
        continue;
      }
      if (ch === '(') depth++;
      if (ch === ')') depth--;
      i++;
    }
    args = stmt.slice(argStart, i - 1).trim();
  }
  return { before: stmt.slice(0, start), family: m[1]!, args, after: stmt.slice(i) };
}

function replicatedEngine(family: string, args: string, database: string, table: string): string {
  const path = `'/clickhouse/tables/{shard}/${database}/${localName(table)}'`;
  const all = [path, "'{replica}'", ...(args ? [args] : [])].join(', ');
  return `ENGINE = Replicated${family}(${all})`;
}

function onCluster(cluster: string) {
  return `ON CLUSTER ${q(cluster)}`;
}

/** Rewrites one rendered single-node statement (database already substituted) into cluster DDL. */
export function renderStatementForCluster(stmt: string, o: ClusterOptions): string[] {
  const s = stmt.trim();
  const oc = onCluster(o.cluster);

  let m = /^CREATE DATABASE (IF NOT EXISTS )?(\S+)(.*)$/is.exec(s);
  if (m) return [`CREATE DATABASE ${m[1] ?? ''}${m[2]} ${oc}${m[3]}`];

  m = new RegExp(`^CREATE TABLE (IF NOT EXISTS )?${QUALIFIED}\\s*([\\s\\S]*)$`, 'i').exec(s);
  if (m) {
    const [, ine = '', db, table, rest] = m as unknown as [string, string | undefined, string, string, string];
    const engine = splitEngine(rest);
    if (!engine) {
      // Non-MergeTree tables (e.g. KeeperMap, Memory) are created as-is on every node.
      return [`CREATE TABLE ${ine}${q(db)}.${q(table)} ${oc} ${rest}`];
    }
    const after = /^\s/.test(engine.after) || engine.after === '' ? engine.after : ` ${engine.after}`;
    const local = `CREATE TABLE ${ine}${q(db)}.${q(localName(table))} ${oc} ${engine.before}${replicatedEngine(engine.family, engine.args, db, table)}${after}`;
    const shardingKey = SHARDING_KEYS[table] ?? (/\btenant_id\b/.test(engine.before) ? 'cityHash64(tenant_id)' : 'rand()');
    const distributed = `CREATE TABLE ${ine}${q(db)}.${q(table)} ${oc} AS ${q(db)}.${q(localName(table))} ENGINE = Distributed(${q(o.cluster)}, ${q(db)}, ${q(localName(table))}, ${shardingKey})`;
    return [local, distributed];
  }

  m = new RegExp(`^CREATE MATERIALIZED VIEW (IF NOT EXISTS )?${QUALIFIED}\\s+TO\\s+${QUALIFIED}\\s*([\\s\\S]*)$`, 'i').exec(s);
  if (m) {
    const [, ine = '', db, view, tdb, target, body] = m as unknown as [string, string | undefined, string, string, string, string, string];
    // The view reads what this shard receives: FROM db.T → FROM db.T_local.
    const localBody = body.replace(new RegExp(`\\bFROM\\s+${IDENT}\\.${IDENT}`, 'gi'), (_all, d: string, t: string) => `FROM ${q(d)}.${q(localName(t))}`);
    return [`CREATE MATERIALIZED VIEW ${ine}${q(db)}.${q(view)} ${oc} TO ${q(tdb)}.${q(localName(target))} ${localBody}`];
  }

  m = new RegExp(`^ALTER TABLE ${QUALIFIED}\\s+([\\s\\S]*)$`, 'i').exec(s);
  if (m) {
    const [, db, table, rest] = m as unknown as [string, string, string, string];
    const out = [`ALTER TABLE ${q(db)}.${q(localName(table))} ${oc} ${rest}`];
    if (/^(ADD|DROP|MODIFY|RENAME|COMMENT) COLUMN\b/i.test(rest.trim())) out.push(`ALTER TABLE ${q(db)}.${q(table)} ${oc} ${rest}`);
    return out;
  }

  m = new RegExp(`^DROP (TABLE|VIEW) (IF EXISTS )?${QUALIFIED}(.*)$`, 'is').exec(s);
  if (m) {
    const [, kind, ie = '', db, name, rest] = m as unknown as [string, string, string | undefined, string, string, string];
    if (kind.toUpperCase() === 'VIEW') return [`DROP VIEW ${ie}${q(db)}.${q(name)} ${oc}${rest}`];
    return [`DROP TABLE ${ie}${q(db)}.${q(name)} ${oc}${rest}`, `DROP TABLE ${ie}${q(db)}.${q(localName(name))} ${oc}${rest}`];
  }

  m = new RegExp(`^TRUNCATE TABLE (IF EXISTS )?${QUALIFIED}(.*)$`, 'is').exec(s);
  if (m) {
    const [, ie = '', db, name, rest] = m as unknown as [string, string | undefined, string, string, string];
    return [`TRUNCATE TABLE ${ie}${q(db)}.${q(localName(name))} ${oc}${rest}`];
  }

  // INSERT ... SELECT backfills run once, through the Distributed tables: unchanged.
  return [s];
}

export function renderForCluster(statements: readonly string[], o: ClusterOptions): string[] {
  return statements.flatMap((s) => renderStatementForCluster(s, o));
}
