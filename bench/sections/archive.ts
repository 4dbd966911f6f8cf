// §6 Archive and verify: how fast the retention job exports expiring rows to archives, how fast
// `archive verify` checks them offline, and how fast integrity `verify` walks the hash chains.
// Each part runs when its verb exists in this checkout (issues 5 and 8) and says "skipped"
// otherwise; all of them go through the real CLI, as an operator would run them.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { BenchContext, BenchSection } from '../lib/context.ts';
import { cliHasVerb, repoRoot } from '../lib/features.ts';
import type { ResultRow } from '../lib/report.ts';
import { BENCH_SECRET } from '../lib/service.ts';
import { fmt } from '../lib/stats.ts';

const DAY = 86_400_000;
const DB = 'bench_archive';

interface CliRun {
  code: number | null;
  ms: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin/audithouse.js'), ...args], {
      env: { PATH: process.env.PATH ?? '', AUDIT_JWT_SECRET: BENCH_SECRET, AUDIT_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15 * 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, ms: performance.now() - t, stdout, stderr });
    });
  });
}

const rate = (rows: number, ms: number) => `${fmt((rows / ms) * 1000, 0)} rows/s`;

async function archiveRows(ctx: BenchContext, rows: ResultRow[], notes: string[]): Promise<void> {
  const hasRetention = cliHasVerb(['retention', 'run', '--dry-run']);
  const hasArchiveVerify = cliHasVerb(['archive', 'verify', path.join(ctx.root, 'no-such-archive')]);
  if (!hasRetention) {
    rows.push({ section: '6', measure: 'archive export (retention run)', value: 'skipped: archives (issue 5) not present' });
    rows.push({ section: '6', measure: '`archive verify`', value: 'skipped: archives (issue 5) not present' });
    return;
  }
  // Rows older than every retention (the longest default is 365 days): the job must archive all of them.
  const count = ctx.opts.mode === 'quick' ? 100_000 : 1_000_000;
  const dataDir = path.join(ctx.root, 'engines', 'archive');
  const w = await ctx.engine('archive');
  await w.call('generate', { database: DB, start: 0, count, nowMs: ctx.nowMs - 400 * DAY });
  await w.stop();
  const archiveDir = path.join(ctx.root, 'archives');
  const env = { AUDIT_DATA_DIR: dataDir, CLICKHOUSE_DATABASE: DB, AUDIT_ARCHIVE_ENABLED: 'true', AUDIT_ARCHIVE_LOCATION: archiveDir };
  const run = await cli(['retention', 'run'], env);
  if (run.code !== 0) throw new Error(`retention run failed (${run.code}): ${run.stderr.slice(-1000)}`);
  const bytes = fs.existsSync(archiveDir) ? dirBytes(archiveDir) : 0;
  rows.push({ section: '6', measure: `archive export: \`retention run\` of ${fmt(count, 0)} expired rows (archive, verify, delete)`, value: rate(count, run.ms) });
  notes.push(`Archives: ${fmt(bytes / 2 ** 20, 1)} MiB for ${fmt(count, 0)} rows (${fmt(bytes / count, 1)} B/row); the run's own output: ${run.stdout.trim().split('\n').at(-1)?.slice(0, 200) ?? ''}`);
  if (!hasArchiveVerify) {
    rows.push({ section: '6', measure: '`archive verify`', value: 'skipped: `archive verify` not present' });
    return;
  }
  const verify = await cli(['archive', 'verify', archiveDir], env);
  if (verify.code !== 0) throw new Error(`archive verify failed (${verify.code}): ${verify.stderr.slice(-1000)}`);
  rows.push({ section: '6', measure: `\`archive verify\` of those archives (offline)`, value: rate(count, verify.ms) });
}

async function integrityRows(ctx: BenchContext, rows: ResultRow[]): Promise<void> {
  const dataDir = ctx.shared.serviceDataDir as string | undefined;
  if (!cliHasVerb(['verify'])) {
    rows.push({ section: '6', measure: 'integrity `verify` (hash chains)', value: 'skipped: integrity verify (issue 8) not present' });
    return;
  }
  if (!dataDir) {
    rows.push({ section: '6', measure: 'integrity `verify` (hash chains)', value: 'skipped: needs the events posted in §1' });
    return;
  }
  // The events §1 posted through the service carry real chains; stop it so the CLI can open its engine.
  await (await ctx.service()).stop();
  const run = await cli(['verify'], { AUDIT_DATA_DIR: dataDir });
  if (run.code !== 0) throw new Error(`verify failed (${run.code}): ${run.stderr.slice(-1000)}`);
  const posted = (ctx.shared.eventsPosted as number | undefined) ?? 0;
  rows.push({ section: '6', measure: `integrity \`verify\` of the ${fmt(posted, 0)} events posted in §1`, value: posted ? rate(posted, run.ms) : `${fmt(run.ms / 1000, 1)} s` });
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? dirBytes(p) : fs.statSync(p).size;
  }
  return total;
}

export const archiveSection: BenchSection = {
  ids: ['6'],
  title: 'Archive and verify',
  async run(ctx) {
    const rows: ResultRow[] = [];
    const notes: string[] = [];
    await archiveRows(ctx, rows, notes);
    await integrityRows(ctx, rows);
    return [{ id: '6', title: this.title, rows, notes }];
  },
};
