// Reading archive data files: streamed (gunzip → lines → rows), hashing the stored bytes on the
// way, so a file of any size is checked in constant memory.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Transform, pipeline } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { parseArchiveName } from './format.ts';

export type ArchiveRow = Record<string, unknown>;

export class ArchiveContentError extends Error {
  override readonly name = 'ArchiveContentError';
  constructor(readonly file: string, message: string, readonly line?: number) {
    super(line === undefined ? `${file}: ${message}` : `${file}, line ${line}: ${message}`);
  }
}

/** What every row of a file must satisfy (from its manifest). Times are ClickHouse text. */
export interface ArchiveExpectations {
  severity?: string;
  partition?: string;
  /** Rows must have timestamp < cutoff ("YYYY-MM-DD hh:mm:ss.sss"). */
  cutoff?: string;
}

export interface ArchiveFileSummary {
  sha256: string;
  bytes: number;
  rows: number;
  /** Oldest and newest row timestamp, ClickHouse text; null for an empty file. */
  firstTimestamp: string | null;
  lastTimestamp: string | null;
}

const CH_TIME_RE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$/;

/** Lines of a gzip NDJSON file; `onBytes` sees every stored (compressed) byte. */
async function* gunzipLines(file: string, onBytes: (chunk: Buffer) => void): AsyncGenerator<string> {
  const source = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onBytes(chunk);
      cb(null, chunk);
    },
  });
  const gunzip = createGunzip();
  // Errors anywhere destroy the whole pipeline and surface in the iteration below.
  pipeline(source, tap, gunzip, () => {});
  const decoder = new StringDecoder('utf8');
  let rest = '';
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      const lines = (rest + decoder.write(chunk)).split('\n');
      rest = lines.pop()!;
      for (const line of lines) yield line;
    }
    rest += decoder.end();
    if (rest.length > 0) throw new ArchiveContentError(file, 'the last line is not terminated (truncated file?)');
  } finally {
    source.destroy();
    gunzip.destroy();
  }
}

/** The rows of an archive data file, in file order. Throws on a damaged file. Does not check the hash. */
export async function* readArchive(file: string): AsyncGenerator<ArchiveRow> {
  let n = 0;
  for await (const line of gunzipLines(file, () => {})) {
    n++;
    yield parseRow(file, line, n);
  }
}

function parseRow(file: string, line: string, n: number): ArchiveRow {
  let row: unknown;
  try {
    row = JSON.parse(line);
  } catch {
    throw new ArchiveContentError(file, 'not a JSON object', n);
  }
  if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new ArchiveContentError(file, 'not a JSON object', n);
  return row as ArchiveRow;
}

/**
 * Reads a whole data file: hashes its bytes, counts and parses every row, checks each against
 * `expect`, and hands it to `onRow` (awaited, so a consumer can apply back-pressure).
 */
export async function scanArchiveFile(
  file: string,
  opts: { expect?: ArchiveExpectations; onRow?: (row: ArchiveRow) => void | Promise<void> } = {},
): Promise<ArchiveFileSummary> {
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  let rows = 0;
  let first: string | null = null;
  let last: string | null = null;
  const { expect = {} } = opts;
  for await (const line of gunzipLines(file, (c) => {
    hash.update(c);
    bytes += c.length;
  })) {
    rows++;
    const row = parseRow(file, line, rows);
    const ts = row.timestamp;
    if (typeof ts !== 'string' || !CH_TIME_RE.test(ts)) throw new ArchiveContentError(file, 'timestamp is missing or malformed', rows);
    if (first === null || ts < first) first = ts;
    if (last === null || ts > last) last = ts;
    if (expect.severity !== undefined && row.severity !== expect.severity) {
      throw new ArchiveContentError(file, `severity ${String(row.severity)} in an archive of ${expect.severity}`, rows);
    }
    if (expect.partition !== undefined && ts.slice(0, 4) + ts.slice(5, 7) !== expect.partition) {
      throw new ArchiveContentError(file, `timestamp ${ts} outside partition ${expect.partition}`, rows);
    }
    if (expect.cutoff !== undefined && !(ts < expect.cutoff)) {
      throw new ArchiveContentError(file, `timestamp ${ts} is not before the archive's cut-off ${expect.cutoff}`, rows);
    }
    if (opts.onRow) await opts.onRow(row);
  }
  return { sha256: hash.digest('hex'), bytes, rows, firstTimestamp: first, lastTimestamp: last };
}

/** The manifest path for a data file path (same directory and base name). */
export function manifestPathFor(dataPath: string): string | undefined {
  const name = dataPath.split(/[\\/]/).pop() ?? '';
  const parsed = parseArchiveName(name);
  if (!parsed || parsed.kind !== 'data') return undefined;
  return dataPath.slice(0, dataPath.length - '.ndjson.gz'.length) + '.manifest.json';
}
