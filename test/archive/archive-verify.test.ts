// Invariant 5: an intact archive directory verifies offline with only the public key (the real
// CLI, in a process that has no database and no private key); any flipped byte, missing,
// truncated or reordered file fails and names the file at fault. Also: restore, the signing key,
// and appending a superseding archive (the erasure path).
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveRestoreCommand } from '../../src/archive/cli.ts';
import { restoreArchives } from '../../src/archive/restore.ts';
import { readManifest, scanLayout } from '../../src/archive/chain.ts';
import { GENESIS_HASH } from '../../src/archive/format.ts';
import { SIGNING_KEY_FILE, createSigner, loadPublicKeys, type PublicKeySet } from '../../src/archive/keys.ts';
import { readArchive } from '../../src/archive/reader.ts';
import { verifyArchiveDir } from '../../src/archive/verify.ts';
import { writeArchive } from '../../src/archive/writer.ts';
import { loadConfig } from '../../src/config.ts';
import { startServices } from '../../src/services.ts';
import { createLogger } from '../../src/logger.ts';
import { testDataDir, testEnv } from '../support/service.ts';
import { DAY, SEVERITIES, createRetentionService, eventAt, tempDir, type RetentionTestService } from '../support/retention.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/audithouse.js');

let t: RetentionTestService;
let pristine: string;
let keyFile: string;
let keys: PublicKeySet;
let manifests: string[]; // relative paths, chain order
let dataFiles: string[];
let totalRows = 0;
const scratch: string[] = [];

beforeAll(async () => {
  t = await createRetentionService();
  const now = Date.now();
  const events: Array<Record<string, unknown>> = [];
  for (const months of [9, 8, 7]) {
    for (const s of SEVERITIES) for (let i = 0; i < 5; i++) events.push(eventAt(now - months * 30 * DAY - i * DAY, s, { details: { n: i, note: 'ünïcødé ✓' } }));
  }
  await t.postEvents(events);
  const report = await t.services.retention.run({ now });
  totalRows = report.totals.archived_rows;
  // A snapshot: later tests run the job again, which appends to t.archiveDir.
  pristine = tempDir('audithouse-archive-pristine-');
  fs.cpSync(t.archiveDir, pristine, { recursive: true });
  const layout = scanLayout(pristine);
  manifests = [...layout.manifests.entries()].sort(([a], [b]) => a - b).map(([, rel]) => rel);
  dataFiles = [...layout.data.entries()].sort(([a], [b]) => a - b).map(([, rel]) => rel);
  keyFile = path.join(pristine, 'keys', fs.readdirSync(path.join(pristine, 'keys')).find((f) => f.endsWith('.jwk'))!);
  keys = await loadPublicKeys([keyFile]);
});
afterAll(async () => {
  await t.close();
  for (const d of [pristine, t.archiveDir, ...scratch]) fs.rmSync(d, { recursive: true, force: true });
});

function copy(): string {
  const dir = tempDir('audithouse-archive-copy-');
  fs.cpSync(pristine, dir, { recursive: true });
  scratch.push(dir);
  return dir;
}

function flipByte(file: string, at: (size: number) => number): void {
  const bytes = fs.readFileSync(file);
  const i = at(bytes.length);
  bytes[i] = bytes[i]! ^ 0x01;
  fs.writeFileSync(file, bytes);
}

/** Swaps two files by renames: each name then holds the other one's bytes. */
function swapFiles(a: string, b: string): void {
  const tmp = `${a}.swap`;
  fs.renameSync(a, tmp);
  fs.renameSync(b, a);
  fs.renameSync(tmp, b);
}

async function problemsOf(dir: string, trusted = keys) {
  const report = await verifyArchiveDir(dir, { publicKeys: trusted });
  expect(report.ok).toBe(false);
  return report.problems;
}

describe('archive verify', () => {
  it('the fixture has several archives over several partitions, and no private key among the files', () => {
    expect(manifests.length).toBeGreaterThanOrEqual(8);
    expect(new Set(manifests.map((m) => m.split('/')[0])).size).toBeGreaterThanOrEqual(3);
    for (const rel of fs.readdirSync(pristine, { recursive: true }) as string[]) {
      const file = path.join(pristine, rel);
      if (fs.statSync(file).isDirectory() || rel.endsWith('.gz')) continue;
      const text = fs.readFileSync(file, 'utf8');
      expect(text).not.toMatch(/PRIVATE KEY|"d"\s*:/);
    }
    expect(fs.existsSync(path.join(testDataDir(), SIGNING_KEY_FILE))).toBe(true); // the key lives in the data dir
    expect(fs.statSync(path.join(testDataDir(), SIGNING_KEY_FILE)).mode & 0o777).toBe(0o600);
  });

  it('passes an intact copy with only the public key: the CLI, no database, no private key', async () => {
    const dir = copy();
    const elsewhere = path.join(tempDir('audithouse-pubkey-'), 'archive.pub.pem');
    scratch.push(path.dirname(elsewhere));
    fs.copyFileSync(keyFile.replace(/\.jwk$/, '.pem'), elsewhere);
    fs.rmSync(path.join(dir, 'keys'), { recursive: true }); // only the pinned key is trusted
    const empty = tempDir('audithouse-empty-');
    scratch.push(empty);
    const { stdout } = await run(process.execPath, [BIN, 'archive', 'verify', dir, '--public-key', elsewhere], {
      env: { PATH: process.env.PATH, AUDIT_DATA_DIR: empty, AUDIT_LOG_LEVEL: 'ERROR' },
      timeout: 30_000,
    });
    expect(stdout).toMatch(new RegExp(`^OK .*: ${manifests.length} archive\\(s\\), ${totalRows} row\\(s\\), chain 1\\.\\.${manifests.length} intact`));
  });

  it('a flipped byte in a data file fails the CLI with a non-zero exit naming the file', async () => {
    const dir = copy();
    flipByte(path.join(dir, dataFiles[2]!), (n) => Math.floor(n / 2));
    const err = await run(process.execPath, [BIN, 'archive', 'verify', dir, '--public-key', keyFile], {
      env: { PATH: process.env.PATH, AUDIT_DATA_DIR: tempDir('audithouse-empty-'), AUDIT_LOG_LEVEL: 'ERROR' },
      timeout: 30_000,
    }).then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(err?.code).toBe(1);
    expect(err?.stderr).toContain(`FAIL ${dataFiles[2]}`);
  });

  const cases: Array<[string, (dir: string) => void, () => string]> = [
    ['a flipped byte near the end of a data file (gzip trailer)', (d) => flipByte(path.join(d, dataFiles[0]!), (n) => n - 3), () => dataFiles[0]!],
    ['a truncated data file', (d) => fs.truncateSync(path.join(d, dataFiles[1]!), 20), () => dataFiles[1]!],
    ['bytes appended to a data file', (d) => fs.appendFileSync(path.join(d, dataFiles[1]!), 'x'), () => dataFiles[1]!],
    ['a removed data file', (d) => fs.rmSync(path.join(d, dataFiles[3]!)), () => dataFiles[3]!],
    ['a changed row count in a manifest', (d) => {
      const f = path.join(d, manifests[2]!);
      fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace(/"row_count": (\d+)/, (_m, n) => `"row_count": ${Number(n) + 1}`));
    }, () => manifests[2]!],
    ['a flipped byte in a manifest signature', (d) => {
      const f = path.join(d, manifests[1]!);
      const text = fs.readFileSync(f, 'utf8');
      const at = text.lastIndexOf('"signature"') + 40;
      flipByte(f, () => at);
    }, () => manifests[1]!],
    ['whitespace added to a manifest (fields unchanged, bytes changed)', (d) => fs.appendFileSync(path.join(d, manifests[3]!), ' '), () => manifests[3]!],
    ['a removed manifest in the middle of the chain', (d) => fs.rmSync(path.join(d, manifests[4]!)), () => dataFiles[4]!],
    ['a removed archive (manifest and data) in the middle', (d) => {
      fs.rmSync(path.join(d, manifests[4]!));
      fs.rmSync(path.join(d, dataFiles[4]!));
    }, () => 'seq 5'],
    ['the newest archive removed (manifest and data)', (d) => {
      fs.rmSync(path.join(d, manifests.at(-1)!));
      fs.rmSync(path.join(d, dataFiles.at(-1)!));
    }, () => manifests.at(-1)!],
    ['HEAD.json removed', (d) => fs.rmSync(path.join(d, 'HEAD.json')), () => 'HEAD.json'],
    ['two manifests swapped (reordered)', (d) => swapFiles(path.join(d, manifests[0]!), path.join(d, manifests[5]!)), () => manifests[0]!],
    ['two data files swapped', (d) => swapFiles(path.join(d, dataFiles[1]!), path.join(d, dataFiles[2]!)), () => dataFiles[2]!],
    ['a data file moved to another month', (d) => {
      const from = path.join(d, dataFiles[0]!);
      const to = path.join(d, dataFiles.at(-1)!.split('/')[0]!, path.basename(from));
      fs.renameSync(from, to);
    }, () => dataFiles[0]!],
  ];
  for (const [what, corrupt, culprit] of cases) {
    it(`fails on ${what}, naming the file`, async () => {
      const dir = copy();
      corrupt(dir);
      const problems = await problemsOf(dir);
      expect(problems.map((p) => p.file)).toContain(culprit());
    });
  }

  it('fails when verified with another key, and catches a re-signed forgery when the key is pinned', async () => {
    const stranger = await createSigner(crypto.generateKeyPairSync('ed25519').privateKey);
    const problems = await problemsOf(copy(), new Map([[stranger.keyId, stranger.publicKey]]));
    for (const m of manifests) expect(problems.map((p) => p.file)).toContain(m);

    // A forger rewrites a data file, fixes its manifest and re-signs it (and, to hide it, every
    // later manifest and HEAD) with their own key, which they drop into keys/.
    const dir = copy();
    const rel = manifests[0]!;
    const m = await readManifest(dir, rel, keys);
    const lines: string[] = [];
    for await (const row of readArchive(path.join(dir, m.body.file))) lines.push(JSON.stringify({ ...row, description: 'forged' }) + '\n');
    fs.rmSync(path.join(dir, m.body.file));
    fs.rmSync(path.join(dir, rel));
    await writeArchive(
      { root: dir, seq: 1, partition: m.body.partition, severity: m.body.severity, cutoffMs: Date.parse(m.body.cutoff), columns: m.body.columns, schemaVersion: m.body.schema_version, prevManifestSha256: GENESIS_HASH },
      (async function* () { yield lines.join(''); })(),
      stranger,
    );
    fs.writeFileSync(path.join(dir, 'keys', `${stranger.keyId}.jwk`), JSON.stringify(stranger.publicJwk));
    const pinned = await problemsOf(dir);
    expect(pinned.map((p) => p.file)).toContain(rel);
  });

  it('an intact copy passes in-process too, and leftovers of an unfinished write only warn', async () => {
    const dir = copy();
    fs.writeFileSync(path.join(dir, `${dataFiles[0]}.abcd1234.partial`), 'half');
    const report = await verifyArchiveDir(dir, { publicKeys: keys });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.warnings.map((w) => w.file)).toEqual([`${dataFiles[0]}.abcd1234.partial`]);
    expect(report.rows).toBe(totalRows);
  });
});

describe('archive restore', () => {
  it('re-imports archived events into audit_restored, once, refusing a damaged archive', async () => {
    const config = loadConfig(testEnv({ CLICKHOUSE_DATABASE: t.database }));
    const restored = async () =>
      Number((await t.services.store.query<{ n: string }>(`SELECT count() AS n FROM ${t.services.store.table('audit_restored')}`))[0]!.n);
    const dir = copy();
    flipByte(path.join(dir, dataFiles[1]!), (n) => Math.floor(n / 2));
    expect(await archiveRestoreCommand([dir, '--public-key', keyFile], config)).toBe(1); // one refused
    const firstArchiveRows = (await readManifest(pristine, manifests[1]!, keys)).body.row_count;
    expect(await restored()).toBe(totalRows - firstArchiveRows);

    expect(await archiveRestoreCommand([pristine, '--public-key', keyFile], config)).toBe(0);
    expect(await restored()).toBe(totalRows);
    expect(await archiveRestoreCommand([pristine], config)).toBe(0); // again: nothing new
    expect(await restored()).toBe(totalRows);

    // Restored events match the archive rows exactly, and the retention job leaves them alone.
    const sample = await t.services.store.query<{ description: string; details: string; archive_seq: string }>(
      `SELECT description, details, archive_seq FROM ${t.services.store.table('audit_restored')} ORDER BY timestamp LIMIT 1`,
    );
    expect(JSON.parse(sample[0]!.details)).toMatchObject({ note: 'ünïcødé ✓' });
    await t.services.retention.run({ now: Date.now() + 3000 * DAY });
    expect(await restored()).toBe(totalRows);
  });

  it('appending a superseding archive (the erasure path) keeps the chain verifying and restores the replacement', async () => {
    const dir = copy();
    const signer = await t.services.retention.signer();
    const loaded = await Promise.all(manifests.map((m) => readManifest(dir, m, keys)));
    const old = loaded.reduce((a, b) => (b.body.row_count > a.body.row_count ? b : a));
    expect(old.body.row_count).toBeGreaterThan(1);
    const kept: string[] = [];
    let i = 0;
    for await (const row of readArchive(path.join(dir, old.body.file))) if (i++ > 0) kept.push(JSON.stringify(row) + '\n');
    const head = await readManifest(dir, manifests.at(-1)!, keys);
    const written = await writeArchive(
      {
        root: dir, seq: head.body.seq + 1, partition: old.body.partition, severity: old.body.severity, cutoffMs: Date.parse(old.body.cutoff),
        columns: old.body.columns, schemaVersion: old.body.schema_version, prevManifestSha256: head.sha256, replaces: old.body.seq, reason: 'erasure',
      },
      (async function* () { yield kept.join(''); })(),
      signer,
    );
    expect(written!.body.row_count).toBe(old.body.row_count - 1);
    fs.rmSync(path.join(dir, old.body.file)); // the superseded file is gone for good
    const report = await verifyArchiveDir(dir, { publicKeys: keys });
    expect(report.problems).toEqual([]);
    expect(report.headSeq).toBe(head.body.seq + 1);

    const restored = await restoreArchives(t.services.store, dir, { publicKeys: keys });
    expect(restored.failed).toEqual([]);
    expect(restored.skipped).toContainEqual({ manifest: old.rel, reason: `superseded by archive ${head.body.seq + 1}` });
    expect(restored.archives).toBe(1); // the replacement; the others were restored by the test before
    expect(restored.rows).toBe(old.body.row_count - 1);
  });
});

describe('archive signing key', () => {
  it('takes an Ed25519 key from AUDIT_ARCHIVE_SIGNING_KEY (PEM or JWK) and refuses anything else without echoing it', async () => {
    const { privateKey } = crypto.generateKeyPairSync('ed25519');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const expected = await createSigner(privateKey);
    for (const value of [pem, JSON.stringify(privateKey.export({ format: 'jwk' }))]) {
      const config = loadConfig(testEnv({ CLICKHOUSE_DATABASE: t.database, AUDIT_SPOOL_MAX_BYTES: '0', AUDIT_ARCHIVE_SIGNING_KEY: value }));
      const s = await startServices(config, createLogger({ level: 'silent' }), { store: t.services.store });
      expect((await s.retention.signer()).keyId).toBe(expected.keyId);
      await s.shutdown();
    }
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    for (const bad of ['not-a-key-but-a-secret-value-0123456789', rsa]) {
      const config = loadConfig(testEnv({ CLICKHOUSE_DATABASE: t.database, AUDIT_SPOOL_MAX_BYTES: '0', AUDIT_ARCHIVE_SIGNING_KEY: bad }));
      const err = await startServices(config, createLogger({ level: 'silent' }), { store: t.services.store }).then(() => undefined, (e: Error) => e);
      expect(err?.name).toBe('SigningKeyError');
      expect(err!.message).not.toContain(bad.slice(0, 30));
      expect(err!.message).toContain('AUDIT_ARCHIVE_SIGNING_KEY');
    }
  });
});
