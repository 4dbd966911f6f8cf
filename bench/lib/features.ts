// Which of the features built in parallel are present in this checkout. Sections whose feature
// is missing report "skipped: <feature> not present" instead of failing, so the same harness
// runs before and after they land.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'bin/audithouse.js');

/** True when the CLI knows `args` (it answers "unknown command" otherwise). Runs on a throwaway data dir. */
export function cliHasVerb(args: string[]): boolean {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audithouse-bench-probe-'));
  try {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', AUDIT_DATA_DIR: dir, AUDIT_LOG_LEVEL: 'error', AUDIT_JWT_SECRET: 'p'.repeat(32) },
      encoding: 'utf8',
      timeout: 60_000,
    });
    return !/unknown command/i.test(`${r.stderr}${r.stdout}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** True when the parsed configuration mentions `word` (e.g. a spool section). */
export function configMentions(word: string): boolean {
  const config = loadConfig({ AUDIT_DATA_DIR: os.tmpdir(), AUDIT_JWT_SECRET: 'p'.repeat(32) });
  return JSON.stringify(Object.keys(flatten(config))).toLowerCase().includes(word.toLowerCase());
}

function flatten(o: unknown, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (o && typeof o === 'object' && !Array.isArray(o)) {
    for (const [k, v] of Object.entries(o)) Object.assign(out, { [`${prefix}${k}`]: v }, flatten(v, `${prefix}${k}.`));
  }
  return out;
}

/** True when any of the paths (relative to the repository root) exists. */
export const hasPath = (...rels: string[]) => rels.some((r) => fs.existsSync(path.join(ROOT, r)));

export const repoRoot = ROOT;
