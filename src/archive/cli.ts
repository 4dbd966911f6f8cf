// `audithouse archive verify PATH [--public-key FILE]...` (offline: files and public keys only)
// and `audithouse archive restore PATH [--public-key FILE]...` (into audit_restored).
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { createLogger } from '../logger.ts';
import { Store } from '../store/client.ts';
import { migrate } from '../store/migrate.ts';
import { tableTtl } from '../retention/policy.ts';
import { KEYS_DIR } from './format.ts';
import { loadPublicKeys, type PublicKeySet } from './keys.ts';
import { findArchiveRoot, restoreArchives } from './restore.ts';
import { verifyArchiveDir } from './verify.ts';

const options = { 'public-key': { type: 'string', multiple: true }, json: { type: 'boolean' } } as const;

async function trustedKeys(root: string, pinned: string[] | undefined): Promise<{ keys: PublicKeySet; note?: string }> {
  if (pinned?.length) return { keys: await loadPublicKeys(pinned) };
  const dir = path.join(root, KEYS_DIR);
  return {
    keys: await loadPublicKeys([dir]).catch(() => new Map()),
    note: `trusting the public keys in ${dir}; pin a key you obtained separately with --public-key for a check an attacker who rewrote the directory cannot pass`,
  };
}

export async function archiveVerifyCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
  if (positionals.length !== 1) {
    process.stderr.write('usage: audithouse archive verify PATH [--public-key FILE]...\n');
    return 2;
  }
  const root = path.resolve(positionals[0]!);
  let trusted: { keys: PublicKeySet; note?: string };
  try {
    trusted = await trustedKeys(root, values['public-key']);
  } catch (err) {
    process.stderr.write(`archive verify: ${(err as Error).message}\n`);
    return 2;
  }
  const started = performance.now();
  const report = await verifyArchiveDir(root, { publicKeys: trusted.keys });
  const seconds = (performance.now() - started) / 1000;
  if (values.json) {
    process.stdout.write(JSON.stringify({ ...report, seconds }, null, 2) + '\n');
    return report.ok ? 0 : 1;
  }
  if (trusted.note) process.stderr.write(`note: ${trusted.note}\n`);
  for (const w of report.warnings) process.stderr.write(`warning ${w.file}: ${w.problem}\n`);
  for (const p of report.problems) process.stderr.write(`FAIL ${p.file}: ${p.problem}\n`);
  const rate = seconds > 0 ? Math.round(report.rows / seconds) : report.rows;
  if (report.ok) {
    process.stdout.write(`OK ${root}: ${report.archives} archive(s), ${report.rows} row(s), chain 1..${report.headSeq} intact, keys ${report.keys.join(', ') || '-'} (${seconds.toFixed(2)} s, ${rate} rows/s)\n`);
    return 0;
  }
  process.stdout.write(`FAILED ${root}: ${report.problems.length} problem(s) in ${report.archives} readable archive(s)\n`);
  return 1;
}

export async function archiveRestoreCommand(args: string[], config: Config): Promise<number> {
  const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
  if (positionals.length !== 1) {
    process.stderr.write('usage: audithouse archive restore PATH [--public-key FILE]...\n');
    return 2;
  }
  const log = createLogger(config.log);
  let keys: PublicKeySet;
  try {
    keys = (await trustedKeys(findArchiveRoot(positionals[0]!), values['public-key'])).keys;
  } catch (err) {
    process.stderr.write(`archive restore: ${(err as Error).message}\n`);
    return 2;
  }
  const store = await Store.fromConfig(config);
  try {
    await migrate(store, { ttl: tableTtl(config), log });
    const report = await restoreArchives(store, positionals[0]!, { publicKeys: keys, log });
    if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else {
      for (const f of report.failed) process.stderr.write(`REFUSED ${f.file}: ${f.problem}\n`);
      process.stdout.write(`restored ${report.rows} row(s) from ${report.archives} archive(s) into ${report.table}` +
        `${report.skipped.length ? `; ${report.skipped.length} already restored` : ''}` +
        `${report.failed.length ? `; ${report.failed.length} refused` : ''}\n`);
    }
    return report.failed.length ? 1 : 0;
  } catch (err) {
    process.stderr.write(`archive restore: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await store.close();
  }
}
