// Writing one archive: rows (whole NDJSON lines) → gzip → temp file → fsync → re-read and check
// (hash, row count, every row's severity, partition and cut-off) → signed manifest → rename both →
// fsync the directory → HEAD. Until the renames nothing has a final name; a crash at any point
// leaves either *.partial files (discarded by the next run) or a complete, verifiable archive.
//
// This module knows nothing of ClickHouse: the retention job feeds it from store.stream, and an
// erasure can feed it the rewritten rows of an earlier archive (spec.replaces) to append a new
// signed manifest to the chain.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { renderManifest, writeHead } from './chain.ts';
import { fsyncDir, sha256Hex, tempPathFor, writeTempFile } from './files.ts';
import { ARCHIVE_FORMAT, archivePaths, chTextToIso, toChText, type ArchiveColumn, type ArchiveManifestBody } from './format.ts';
import type { ArchiveSigner } from './keys.ts';
import { scanArchiveFile, type ArchiveRow } from './reader.ts';

/** zlib level: 6 is the usual size/speed balance; archives are written once and kept for years. */
const GZIP_LEVEL = 6;

/** Named points in the write, for tests that stop a run there (as a crash would). */
export type StepHook = (step: string, detail?: Record<string, unknown>) => void | Promise<void>;

export interface ArchiveSpec {
  root: string;
  seq: number;
  partition: string;
  severity: string;
  /** Every row must have timestamp < cutoff (epoch ms). */
  cutoffMs: number;
  columns: ArchiveColumn[];
  schemaVersion: number;
  prevManifestSha256: string;
  replaces?: number;
  reason?: string;
}

export interface WrittenArchive {
  body: ArchiveManifestBody;
  manifestRel: string;
  manifestSha256: string;
}

export class ArchiveVerifyError extends Error {
  override readonly name = 'ArchiveVerifyError';
}

/**
 * Writes, verifies and chains one archive. `lines` yields chunks of whole NDJSON lines (as
 * store.stream does). `onRow` sees every row of the verifying re-read (not of the write), so
 * what it collects is what the file on disk holds. Returns null when there were no rows.
 */
export async function writeArchive(
  spec: ArchiveSpec,
  lines: AsyncIterable<string>,
  signer: ArchiveSigner,
  opts: { onRow?: (row: ArchiveRow) => void | Promise<void>; onStep?: StepHook } = {},
): Promise<WrittenArchive | null> {
  const step = opts.onStep ?? (() => {});
  const paths = archivePaths(spec.seq, spec.partition, spec.severity);
  const dataFinal = path.join(spec.root, paths.data);
  const manifestFinal = path.join(spec.root, paths.manifest);
  const dir = path.dirname(dataFinal);
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(dir, { recursive: true });
    await fsyncDir(spec.root);
  }

  const dataTmp = tempPathFor(dataFinal);
  const written = crypto.createHash('sha256');
  let writtenBytes = 0;
  let writtenRows = 0;
  await pipeline(
    async function* () {
      for await (const chunk of lines) {
        if (chunk.length === 0) continue;
        if (!chunk.endsWith('\n')) throw new ArchiveVerifyError('row stream yielded a partial line');
        for (let i = chunk.indexOf('\n'); i !== -1; i = chunk.indexOf('\n', i + 1)) writtenRows++;
        yield chunk;
        await step('export-chunk', { rows: writtenRows });
      }
    },
    createGzip({ level: GZIP_LEVEL }),
    new Transform({
      transform(chunk: Buffer, _enc, cb) {
        written.update(chunk);
        writtenBytes += chunk.length;
        cb(null, chunk);
      },
    }),
    fs.createWriteStream(dataTmp, { flags: 'wx', mode: 0o644 }),
  );
  // fsync is per file, not per descriptor: syncing through a fresh handle makes the data durable.
  const handle = await fsp.open(dataTmp, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await step('data-written', { rows: writtenRows });

  const writtenSha = written.digest('hex');
  // Re-read what is on disk, not what we meant to write.
  const summary = await scanArchiveFile(dataTmp, {
    expect: { severity: spec.severity, partition: spec.partition, cutoff: toChText(spec.cutoffMs) },
    ...(opts.onRow ? { onRow: opts.onRow } : {}),
  });
  if (summary.sha256 !== writtenSha || summary.bytes !== writtenBytes || summary.rows !== writtenRows) {
    throw new ArchiveVerifyError(
      `${paths.data}: re-read does not match the write (sha256 ${summary.sha256} vs ${writtenSha}, ${summary.rows} vs ${writtenRows} rows)`,
    );
  }
  if (summary.rows === 0) {
    await fsp.unlink(dataTmp);
    return null;
  }
  await step('data-verified', { rows: summary.rows });

  const body: ArchiveManifestBody = {
    format: ARCHIVE_FORMAT,
    seq: spec.seq,
    partition: spec.partition,
    severity: spec.severity,
    file: paths.data,
    file_sha256: summary.sha256,
    file_bytes: summary.bytes,
    row_count: summary.rows,
    first_timestamp: chTextToIso(summary.firstTimestamp!),
    last_timestamp: chTextToIso(summary.lastTimestamp!),
    cutoff: new Date(spec.cutoffMs).toISOString(),
    schema_version: spec.schemaVersion,
    columns: spec.columns,
    created_at: new Date().toISOString(),
    key_id: signer.keyId,
    prev_manifest_sha256: spec.prevManifestSha256,
    ...(spec.replaces !== undefined ? { replaces: spec.replaces } : {}),
    ...(spec.reason !== undefined ? { reason: spec.reason } : {}),
  };
  const manifest = await renderManifest(body, signer);
  const manifestTmp = await writeTempFile(manifestFinal, manifest);
  // Data first: a manifest never names a file that is not in place. A crash between the two
  // renames leaves a data file without a manifest, which the next run discards (its rows are
  // still in the table: nothing is deleted before the archive is committed).
  await fsp.rename(dataTmp, dataFinal);
  await fsp.rename(manifestTmp, manifestFinal);
  await fsyncDir(dir);
  await step('files-renamed', { seq: spec.seq });

  const manifestSha256 = sha256Hex(manifest);
  await writeHead(spec.root, { seq: spec.seq, manifest: paths.manifest, manifest_sha256: manifestSha256 }, signer);
  await step('head-written', { seq: spec.seq });
  return { body, manifestRel: paths.manifest, manifestSha256 };
}
