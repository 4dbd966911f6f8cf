// The peer: PostgreSQL with the seed guide's own design. The bench starts its own temporary
// cluster (initdb in a temp dir, loopback only, a free port) and removes it afterwards; it
// installs nothing, and where no Postgres binaries are found it says so and skips the peer.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './service.ts';

export interface PostgresBinaries {
  bindir: string;
  version: string;
}

/** initdb/pg_ctl from PATH, pg_config, or Debian's /usr/lib/postgresql/<v>/bin (newest first). */
export function findPostgres(): PostgresBinaries | undefined {
  const candidates: string[] = [];
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    /* no pg_config */
  }
  try {
    const versions = fs.readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  } catch {
    /* not Debian-style */
  }
  for (const dir of (process.env.PATH ?? '').split(':')) candidates.push(dir);
  for (const bindir of candidates) {
    if (!bindir || !fs.existsSync(path.join(bindir, 'initdb')) || !fs.existsSync(path.join(bindir, 'pg_ctl'))) continue;
    try {
      const version = execFileSync(path.join(bindir, 'postgres'), ['--version'], { encoding: 'utf8' }).trim().replace(/^postgres \(PostgreSQL\)\s*/, 'PostgreSQL ');
      return { bindir, version };
    } catch {
      /* broken install */
    }
  }
  return undefined;
}

/**
 * The guide's table: one row per activity, `details` as JSONB, and its indexes (tenant+time,
 * user+time, resource lookup, user+action+time, type, severity; the primary key on id).
 */
export const PG_TABLE = `
CREATE TABLE audit_activities (
  id            UUID PRIMARY KEY,
  tenant_id     VARCHAR(255) NOT NULL,
  timestamp     TIMESTAMPTZ NOT NULL,
  received_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
  activity_type VARCHAR(100) NOT NULL,
  severity      VARCHAR(20) NOT NULL,
  action        VARCHAR(100) NOT NULL,
  outcome       VARCHAR(20) NOT NULL DEFAULT 'success',
  resource_type VARCHAR(100),
  user_agent    TEXT,
  user_id       VARCHAR(255),
  resource_id   VARCHAR(255),
  ip_address    VARCHAR(45),
  request_id    VARCHAR(255),
  description   TEXT NOT NULL,
  details       JSONB
)`;

export const PG_INDEXES = [
  'CREATE INDEX idx_audit_tenant_timestamp ON audit_activities (tenant_id, timestamp)',
  'CREATE INDEX idx_audit_user_timestamp ON audit_activities (user_id, timestamp)',
  'CREATE INDEX idx_audit_resource_lookup ON audit_activities (resource_type, resource_id, timestamp DESC)',
  'CREATE INDEX idx_audit_user_actions ON audit_activities (user_id, action, timestamp DESC)',
  'CREATE INDEX idx_audit_activity_type ON audit_activities (activity_type)',
  'CREATE INDEX idx_audit_severity ON audit_activities (severity)',
];
export const PG_INDEX_NAMES = PG_INDEXES.map((s) => /INDEX (\w+)/.exec(s)![1]!);

/** Column order of COPY (the same as the ClickHouse insert order, EVENT_COLUMNS). */
export const PG_COPY = `COPY audit_activities (id, tenant_id, timestamp, received_at, activity_type, severity, action, outcome,
  resource_type, user_agent, user_id, resource_id, ip_address, request_id, description, details) FROM STDIN`;

export interface PostgresPeer {
  version: string;
  url: string;
  /** Settings the cluster was started with, for the report. */
  settings: string[];
  client(): Promise<pg.Client>;
  stop(): Promise<void>;
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function run(bin: string, args: string[], cwd: string): void {
  // Postgres refuses to run as root: as root, run its tools as the postgres user.
  const r = asRoot
    ? spawnSync('runuser', ['-u', 'postgres', '--', bin, ...args], { cwd, encoding: 'utf8' })
    : spawnSync(bin, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${path.basename(bin)} failed (${r.status}): ${(r.stderr || r.stdout || '').slice(-1500)}`);
}

/**
 * Tuned for its best case as a dedicated box would be (memory for caches and sorts, no fsync:
 * the embedded ClickHouse does not fsync parts either), so a ratio never flatters us by a
 * default-config strawman.
 */
const SETTINGS = [
  'shared_buffers=2GB', 'effective_cache_size=12GB', 'work_mem=64MB', 'maintenance_work_mem=1GB',
  'max_wal_size=8GB', 'checkpoint_timeout=30min', 'fsync=off', 'synchronous_commit=off', 'full_page_writes=off',
  'wal_level=minimal', 'max_wal_senders=0', 'random_page_cost=1.1', 'max_parallel_workers_per_gather=2',
];

export async function startPostgres(bins: PostgresBinaries): Promise<PostgresPeer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audithouse-bench-pg-'));
  const data = path.join(dir, 'data');
  if (asRoot) {
    const pgUid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const pgGid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    fs.chownSync(dir, pgUid, pgGid);
  }
  const port = await freePort();
  let started = false;
  const stop = async () => {
    if (started) {
      try {
        run(path.join(bins.bindir, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'], dir);
      } catch {
        /* already down */
      }
      started = false;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    run(path.join(bins.bindir, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], dir);
    const opts = [`-p ${port}`, `-k ${dir}`, "-c listen_addresses='127.0.0.1'", ...SETTINGS.map((s) => `-c ${s}`)].join(' ');
    run(path.join(bins.bindir, 'pg_ctl'), ['-D', data, '-l', path.join(dir, 'log'), '-o', opts, '-w', '-t', '60', 'start'], dir);
    started = true;
  } catch (err) {
    await stop();
    throw err;
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    version: bins.version,
    url,
    settings: SETTINGS,
    async client() {
      const c = new pg.Client({ connectionString: url, options: '-c TimeZone=UTC' });
      await c.connect();
      return c;
    },
    stop,
  };
}

/** COPY text format: backslash, tab, newline and carriage return escaped. */
export const copyText = (s: string) => s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
