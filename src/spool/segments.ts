// The spool's segment files on disk (src/spool/spool.ts keeps the log's order and accounting):
// their names, creating one durably, closing one (cut back to its durable size after a failed
// write), a reader per file, corrupt ranges counted once, the scan of what a previous run left,
// and quarantine files.
import fsp, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { EventRow } from '../event/model.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { loadCursor, syncDir, type Position } from './dir.ts';
import { encodeFrame } from './frame.ts';
import { SegmentReader, type CorruptReason } from './segment-reader.ts';

export interface Segment {
  seq: number;
  file: string;
  /** Bytes known to hold whole, fsynced frames (for old segments: the file size). */
  size: number;
  reader?: { fh: FileHandle; segment: SegmentReader };
  /** Offsets already counted as corrupt, so a re-read does not count them twice. */
  counted: Set<number>;
}

/** The segment being appended to, and its open handle. */
export interface ActiveSegment {
  segment: Segment;
  fh: FileHandle;
}

const SEGMENT_RE = /^(\d{20})\.seg$/;
export const segmentName = (seq: number) => `${String(seq).padStart(20, '0')}.seg`;

/** Creates segment `seq` in `dir` (the file must not exist yet). */
export async function createSegment(dir: string, seq: number): Promise<ActiveSegment> {
  const segment: Segment = { seq, file: '', size: 0, counted: new Set() };
  segment.file = path.join(dir, segmentName(segment.seq));
  const fh = await fsp.open(segment.file, 'wx');
  try {
    // The new directory entry must survive a power loss too, or the fsynced frames are unreachable.
    syncDir(dir);
  } catch (err) {
    await fh.close().catch(() => {});
    await fsp.rm(segment.file, { force: true }).catch(() => {});
    throw err;
  }
  return { segment, fh };
}

/** Closes an appended segment; with `truncate` (after a failed write), first cuts it back to its durable size. */
export async function closeSegment(active: ActiveSegment, truncate: boolean): Promise<void> {
  if (truncate) await active.fh.truncate(active.segment.size).catch(() => {});
  await active.fh.close().catch(() => {});
}

export async function segmentReader(segment: Segment): Promise<SegmentReader> {
  if (!segment.reader) {
    const fh = await fsp.open(segment.file, 'r');
    segment.reader = { fh, segment: new SegmentReader(fh) };
  }
  return segment.reader.segment;
}

export function countCorrupt(
  segment: Segment, offset: number, bytes: number, reason: CorruptReason, opts: { metrics?: Metrics | undefined; log?: Logger | undefined },
): void {
  if (segment.counted.has(offset)) return;
  segment.counted.add(offset);
  opts.metrics?.spoolCorrupt.inc({ reason });
  opts.log?.warn({ segment: path.basename(segment.file), offset, bytes, reason }, 'spool: skipping a corrupt or torn record');
}

/**
 * The segments a previous run left in `dir`, the head to resume at (the saved cursor) and the
 * events still pending after it. Segments drained before the last stop are deleted.
 */
export async function scanSegments(
  dir: string, nextSeq: number, opts: { metrics?: Metrics | undefined; log?: Logger | undefined },
): Promise<{ segments: Segment[]; nextSeq: number; head: Position; pending: number }> {
  const segments: Segment[] = [];
  let pending = 0;
  const names = (await fsp.readdir(dir)).filter((n) => SEGMENT_RE.test(n)).sort();
  // Trust the cursor only if its segment is still here; otherwise replaying everything is the safe side.
  const saved = await loadCursor(dir);
  const cursor = saved && names.includes(segmentName(saved.seq)) ? saved : undefined;
  for (const name of names) {
    const seq = Number(SEGMENT_RE.exec(name)![1]);
    const file = path.join(dir, name);
    if (cursor && seq < cursor.seq) {
      await fsp.rm(file, { force: true }); // drained before the last stop
      continue;
    }
    const { size } = await fsp.stat(file);
    segments.push({ seq, file, size, counted: new Set() });
    nextSeq = Math.max(nextSeq, seq + 1);
  }
  const first = segments[0];
  const head = first ? (cursor && cursor.seq === first.seq ? { seq: first.seq, offset: Math.min(cursor.offset, first.size) } : { seq: first.seq, offset: 0 }) : { seq: 0, offset: 0 };
  for (const segment of segments) {
    const reader = await segmentReader(segment);
    let pos = segment.seq === head.seq ? head.offset : 0;
    for (let item = await reader.next(pos, segment.size, false); item; item = await reader.next(pos, segment.size, false)) {
      pos = item.offset + item.bytes;
      if (item.kind === 'corrupt') countCorrupt(segment, item.offset, item.bytes, item.reason, opts);
      else pending += item.events;
    }
    reader.reset();
  }
  return { segments, nextSeq, head, pending };
}

/** Writes records the store refuses for good to `dir`/quarantine/ (same frame format); returns the file. */
export async function writeQuarantineFile(spoolDir: string, headSeq: number, groups: EventRow[][]): Promise<string> {
  const dir = path.join(spoolDir, 'quarantine');
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${segmentName(headSeq)}`);
  const fh = await fsp.open(file, 'wx');
  try {
    await fh.write(Buffer.concat(groups.map((g) => encodeFrame(g))));
    await fh.datasync();
  } finally {
    await fh.close();
  }
  return file;
}
