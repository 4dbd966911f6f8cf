// `audithouse archive verify`: proves an archive directory intact offline, with only public keys.
// Every manifest's signature, every data file's SHA-256, size and rows against its manifest, the
// chain of manifest hashes from seq 1 with no gap, and the signed HEAD naming the newest manifest.
// Every problem names the file at fault; nothing stops at the first one.
import fs from 'node:fs';
import path from 'node:path';
import { ArchiveFileError, readHead, readManifest, scanLayout, type LoadedManifest } from './chain.ts';
import { GENESIS_HASH, HEAD_FILE, toChText } from './format.ts';
import type { PublicKeySet } from './keys.ts';
import { scanArchiveFile } from './reader.ts';

export interface VerifyProblem {
  file: string;
  problem: string;
}

export interface VerifyReport {
  ok: boolean;
  root: string;
  archives: number;
  rows: number;
  /** Newest seq the chain proves, or 0 for an empty directory. */
  headSeq: number;
  /** Key ids that were trusted. */
  keys: string[];
  problems: VerifyProblem[];
  /** Harmless leftovers (unfinished writes), reported but not failing. */
  warnings: VerifyProblem[];
}

export async function verifyArchiveDir(root: string, opts: { publicKeys: PublicKeySet }): Promise<VerifyReport> {
  const report: VerifyReport = {
    ok: false, root, archives: 0, rows: 0, headSeq: 0, keys: [...opts.publicKeys.keys()], problems: [], warnings: [],
  };
  const problem = (file: string, text: string) => report.problems.push({ file, problem: text });
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    problem(root, 'is not a directory');
    return report;
  }
  if (opts.publicKeys.size === 0) problem('keys/', 'no public key to verify with');

  const layout = scanLayout(root);
  for (const rel of layout.temps) report.warnings.push({ file: rel, problem: 'unfinished write (discarded by the next retention run)' });
  for (const rel of layout.unexpected) problem(rel, 'is not part of the archive layout (stray file, or a second file for the same seq)');

  const loaded = new Map<number, LoadedManifest>();
  for (const [seq, rel] of layout.manifests) {
    try {
      loaded.set(seq, await readManifest(root, rel, opts.publicKeys));
    } catch (err) {
      problem(rel, err instanceof ArchiveFileError ? err.problem : (err as Error).message);
    }
  }
  const replaced = new Set([...loaded.values()].flatMap((m) => (m.body.replaces !== undefined ? [m.body.replaces] : [])));

  const maxSeq = Math.max(0, ...layout.manifests.keys(), ...layout.data.keys());
  let prevSha: string | undefined = GENESIS_HASH;
  let prevRel = '';
  for (let seq = 1; seq <= maxSeq; seq++) {
    const rel = layout.manifests.get(seq);
    if (!rel) {
      const data = layout.data.get(seq);
      problem(data ?? `seq ${seq}`, data ? 'its manifest is missing (chain gap)' : `archive ${seq} is missing: no manifest, no data file (chain gap)`);
      prevSha = undefined;
      continue;
    }
    const m = loaded.get(seq);
    if (!m) {
      prevSha = undefined; // reported above; the next link cannot be checked against it
      continue;
    }
    if (prevSha !== undefined && m.body.prev_manifest_sha256 !== prevSha) {
      // This manifest's signature holds, so the hash it records for its predecessor is the one
      // that was written: the predecessor's file is what changed since.
      if (seq === 1) problem(rel, 'claims a predecessor, but it is the first archive (earlier archives removed?)');
      else problem(prevRel, `changed after archive ${seq} was chained to it (its SHA-256 is not the one ${rel} records)`);
    }
    prevSha = m.sha256;
    prevRel = rel;
    report.archives++;
    report.rows += m.body.row_count;
    if (replaced.has(seq)) continue; // its data file was superseded by a later archive
    await checkDataFile(root, m, problem);
  }
  for (const [seq, rel] of layout.data) {
    const m = loaded.get(seq);
    if (m && m.body.file !== rel) problem(rel, `is not where its manifest ${m.rel} says (${m.body.file}): moved?`);
  }

  await checkHead(root, opts.publicKeys, layout.hasHead, maxSeq, loaded, problem);
  report.headSeq = maxSeq;
  report.ok = report.problems.length === 0;
  return report;
}

async function checkDataFile(root: string, m: LoadedManifest, problem: (file: string, text: string) => void): Promise<void> {
  const rel = m.body.file;
  const file = path.join(root, rel);
  if (!fs.existsSync(file)) {
    problem(rel, `data file is missing (named by ${m.rel})`);
    return;
  }
  try {
    const s = await scanArchiveFile(file, {
      expect: { severity: m.body.severity, partition: m.body.partition, cutoff: toChText(Date.parse(m.body.cutoff)) },
    });
    if (s.sha256 !== m.body.file_sha256 || s.bytes !== m.body.file_bytes) {
      problem(rel, `SHA-256 ${s.sha256} (${s.bytes} bytes) does not match its manifest (${m.body.file_sha256}, ${m.body.file_bytes} bytes)`);
    } else if (s.rows !== m.body.row_count) {
      problem(rel, `holds ${s.rows} rows, its manifest says ${m.body.row_count}`);
    } else if (s.firstTimestamp && (toIso(s.firstTimestamp) !== m.body.first_timestamp || toIso(s.lastTimestamp!) !== m.body.last_timestamp)) {
      problem(rel, 'time range does not match its manifest');
    }
  } catch (err) {
    // A flipped byte usually breaks the gzip stream (CRC, invalid block) before the hash is known.
    problem(rel, `cannot be read back (${(err as Error).message.replace(`${file}: `, '').replace(`${file}, `, '')}): damaged`);
  }
}

const toIso = (ch: string) => `${ch.replace(' ', 'T')}Z`;

async function checkHead(
  root: string,
  keys: PublicKeySet,
  hasHead: boolean,
  maxSeq: number,
  loaded: Map<number, LoadedManifest>,
  problem: (file: string, text: string) => void,
): Promise<void> {
  if (!hasHead) {
    if (maxSeq > 0) problem(HEAD_FILE, 'is missing: the newest archives cannot be proven complete');
    return;
  }
  try {
    const head = await readHead(root, keys);
    if (!head) return;
    if (head.seq > maxSeq) {
      problem(head.manifest, `is missing: ${HEAD_FILE} names archive ${head.seq} as the newest, the directory ends at ${maxSeq}`);
    } else if (head.seq < maxSeq) {
      problem(HEAD_FILE, `names archive ${head.seq} as the newest, but archives up to ${maxSeq} exist (HEAD rolled back?)`);
    } else if (maxSeq > 0 && loaded.get(maxSeq) && head.manifest_sha256 !== loaded.get(maxSeq)!.sha256) {
      problem(loaded.get(maxSeq)!.rel, `does not match the hash ${HEAD_FILE} records for it`);
    }
  } catch (err) {
    problem(HEAD_FILE, err instanceof ArchiveFileError ? err.problem : (err as Error).message);
  }
}
