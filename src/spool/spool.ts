// The ingest spool: a write-ahead log of acknowledged-but-not-yet-stored requests, under
// $AUDIT_DATA_DIR/spool/<database>/. Appends go to the newest segment file and are fsynced
// before the caller may answer 202; the drainer reads from the oldest segment and commits its
// position once the rows are in ClickHouse. Fully drained segments are deleted (truncation is
// an unlink, never a rewrite). A segment is never appended to after a restart or a failed
// write, so a torn tail stays a torn tail: detected by its checksum, skipped and counted.
//
// The read position is saved in `cursor.json` without fsync: losing it (power loss) replays a
// few records, which the writer's (tenant, id) de-duplication stores once. The segment files
// themselves (naming, creation, readers, the scan at startup) are in segments.ts.
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { EventRow } from '../event/model.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { lockDir, saveCursor, unlockDir, type Position } from './dir.ts';
import { SpoolTooSmallError, SpoolUnavailableError } from './errors.ts';
import { encodeFrame } from './frame.ts';
import { closeSegment, countCorrupt, createSegment, scanSegments, segmentReader, writeQuarantineFile, type ActiveSegment, type Segment } from './segments.ts';

export interface SpoolOptions {
  dir: string;
  /** Bytes on disk the spool may hold (segment files); appends past it are refused. */
  maxBytes: number;
  /** Segment size at which the next append starts a new file (default: maxBytes / 16, at most 64 MiB). */
  segmentBytes?: number;
  metrics?: Metrics | undefined;
  log?: Logger | undefined;
  /** Test-only disk fault hook. */
  faults?: { beforeSpoolAppend(): Promise<void> } | undefined;
}

export type { Position };

/** Records read from the head of the spool, in order; commit() them once stored. */
export interface SpoolBatch {
  /** One entry per spooled request. */
  groups: EventRow[][];
  events: number;
  /** Where the spool continues after this batch (corrupt ranges inside it are skipped too). */
  end: Position;
}

const DISK_ERROR_HOLD_MS = 5_000;

export class Spool {
  private segments: Segment[] = [];
  private active: ActiveSegment | undefined;
  private head: Position = { seq: 0, offset: 0 };
  private nextSeq = 1;
  private pending = 0;
  private totalBytes = 0;
  private appending = false;
  private refusedForRoom = false;
  private closed = false;
  private lastAppendError: { err: Error; at: number } | undefined;
  readonly segmentBytes: number;

  private constructor(private readonly opts: SpoolOptions) {
    // Space comes back one drained segment at a time, so a segment is a small share of the bound.
    this.segmentBytes = opts.segmentBytes ?? Math.min(64 * 1024 * 1024, Math.max(1, Math.floor(opts.maxBytes / 16)));
  }

  /** Opens (creating if needed) and scans the spool: counts what a previous run left to replay. */
  static async open(opts: SpoolOptions): Promise<Spool> {
    const dir = path.resolve(opts.dir);
    const spool = new Spool({ ...opts, dir });
    await fsp.mkdir(dir, { recursive: true });
    await lockDir(dir);
    try {
      await spool.recover();
    } catch (err) {
      await unlockDir(dir);
      throw err;
    }
    return spool;
  }

  get dir(): string {
    return this.opts.dir;
  }

  /** Events acknowledged into the spool and not yet committed as stored. */
  get pendingEvents(): number {
    return this.pending;
  }

  /** Bytes of segment files on disk. */
  get bytes(): number {
    return this.totalBytes;
  }

  get maxBytes(): number {
    return this.opts.maxBytes;
  }

  /** An append was refused for lack of room since the last drained batch freed some. */
  get full(): boolean {
    return this.refusedForRoom;
  }

  /**
   * The last append failed on the disk, within the last few seconds (cleared by the next
   * successful append). It expires so that readiness does not stay down with no append to retry.
   */
  get diskError(): Error | undefined {
    const e = this.lastAppendError;
    return e && Date.now() - e.at < DISK_ERROR_HOLD_MS ? e.err : undefined;
  }

  /**
   * Appends one frame per request, with one write and one fsync for all of them, and resolves
   * once they are durable. Returns how many requests (a prefix of `groups`) fitted under
   * maxBytes; the rest were not written. Throws SpoolUnavailableError if the disk failed:
   * then none of them count as spooled.
   */
  async append(groups: readonly EventRow[][]): Promise<number> {
    return (await this.appendFrames(groups)).length;
  }

  /**
   * append(), returning where each accepted request's frame ends in the log (what a commit up to
   * that request passes to commit()), so the writer can drain from its in-memory copy.
   */
  async appendFrames(groups: readonly EventRow[][]): Promise<Position[]> {
    if (this.closed) throw new SpoolUnavailableError('the spool is closed');
    if (this.appending) throw new Error('spool appends must be serialized');
    const frames: Buffer[] = [];
    let bytes = 0;
    let events = 0;
    for (const rows of groups) {
      const frame = encodeFrame(rows);
      if (frame.length > this.opts.maxBytes) {
        // Bigger than the whole spool: not a sign of a full spool (it would never fit), so it
        // must not hold readiness down; the caller refuses this one request outright.
        if (frames.length === 0) throw new SpoolTooSmallError(frame.length, this.opts.maxBytes);
        break;
      }
      if (this.totalBytes + bytes + frame.length > this.opts.maxBytes) break;
      frames.push(frame);
      bytes += frame.length;
      events += rows.length;
    }
    if (frames.length < groups.length && this.totalBytes + bytes > 0) this.refusedForRoom = true;
    if (frames.length === 0) return [];

    this.appending = true;
    let active: ActiveSegment | undefined;
    try {
      await this.opts.faults?.beforeSpoolAppend();
      active = this.active ?? (await this.startSegment());
      const data = frames.length === 1 ? frames[0]! : Buffer.concat(frames, bytes);
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await active.fh.write(data, written, data.length - written, active.segment.size + written);
        written += bytesWritten;
      }
      await active.fh.datasync();
    } catch (err) {
      this.lastAppendError = { err: err as Error, at: Date.now() };
      this.opts.log?.error({ err, dir: this.opts.dir }, 'spool append failed: refusing writes that need the spool');
      // The file's tail is now unknown: cut it back to the last durable frame and never append to it again.
      if (active) await this.seal(active, true);
      throw new SpoolUnavailableError(`the spool's disk failed: ${(err as Error).message}`, { cause: err });
    } finally {
      this.appending = false;
    }
    this.lastAppendError = undefined;
    const ends: Position[] = [];
    let end = active.segment.size;
    for (const f of frames) ends.push({ seq: active.segment.seq, offset: (end += f.length) });
    active.segment.size += bytes;
    this.totalBytes += bytes;
    this.pending += events;
    this.opts.metrics?.spoolAppended.inc(events);
    this.publish();
    if (active.segment.size >= this.segmentBytes) await this.seal(active, false);
    return ends;
  }

  /**
   * Reads from the head (or `from`), in order, up to `maxEvents` (at least one record). Corrupt
   * or torn ranges are counted (once) and stepped over. Undefined when nothing is left to read.
   */
  async read(maxEvents: number, maxRecords = Number.POSITIVE_INFINITY, from: Position = this.head): Promise<SpoolBatch | undefined> {
    const groups: EventRow[][] = [];
    let events = 0;
    let pos: Position = { ...from };
    let moved = false;
    for (let i = this.segments.findIndex((s) => s.seq >= pos.seq); i >= 0 && i < this.segments.length; i++) {
      const segment = this.segments[i]!;
      if (segment.seq !== pos.seq) pos = { seq: segment.seq, offset: 0 };
      const reader = await segmentReader(segment);
      for (;;) {
        if (groups.length > 0 && (events >= maxEvents || groups.length >= maxRecords)) return { groups, events, end: pos };
        const item = await reader.next(pos.offset, segment.size, true);
        if (!item) break;
        pos = { seq: segment.seq, offset: item.offset + item.bytes };
        moved = true;
        if (item.kind === 'corrupt') {
          countCorrupt(segment, item.offset, item.bytes, item.reason, this.opts);
          continue;
        }
        groups.push(item.rows!);
        events += item.events;
      }
      if (this.active?.segment === segment) break; // the live end of the spool
      // A sealed segment read to its end: continue in the next one.
      if (i + 1 < this.segments.length) {
        pos = { seq: this.segments[i + 1]!.seq, offset: 0 };
        moved = true;
      }
    }
    return moved ? { groups, events, end: pos } : undefined;
  }

  /** Marks a batch from read() as stored: advances the head and deletes drained segments. */
  async commit(batch: SpoolBatch): Promise<void> {
    this.head = { ...batch.end };
    this.pending = Math.max(0, this.pending - batch.events);
    const bytesBefore = this.totalBytes;
    while (this.segments.length > 0) {
      const first = this.segments[0]!;
      const drained = first.seq < this.head.seq || (first.seq === this.head.seq && this.head.offset >= first.size);
      if (!drained) break;
      if (first === this.active?.segment) {
        // The live segment may only go when nothing more is coming into it right now.
        if (this.appending || this.pending > 0) break;
        await this.seal(this.active, false);
      }
      this.segments.shift();
      await first.reader?.fh.close().catch(() => {});
      await fsp.rm(first.file, { force: true });
      this.totalBytes -= first.size;
      const next = this.segments[0];
      if (next && this.head.seq <= first.seq) this.head = { seq: next.seq, offset: 0 };
    }
    if (this.segments.length === 0) this.totalBytes = 0;
    if (this.totalBytes < bytesBefore) this.refusedForRoom = false;
    this.publish();
    await saveCursor(this.opts.dir, this.head, this.opts.log);
  }

  /** Moves records the store refuses for good into quarantine/ (same frame format), then commits past them. */
  async quarantine(batch: SpoolBatch): Promise<string> {
    const file = await writeQuarantineFile(this.opts.dir, this.head.seq, batch.groups);
    this.opts.metrics?.spoolQuarantined.inc(batch.events);
    await this.commit(batch);
    return file;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.active) await this.seal(this.active, false);
    for (const s of this.segments) await s.reader?.fh.close().catch(() => {});
    await saveCursor(this.opts.dir, this.head, this.opts.log);
    await unlockDir(this.opts.dir);
  }

  private publish(): void {
    this.opts.metrics?.spoolEvents.set(this.pending);
    this.opts.metrics?.spoolBytes.set(this.totalBytes);
  }

  private async startSegment(): Promise<ActiveSegment> {
    const { segment, fh } = await createSegment(this.opts.dir, this.nextSeq++);
    this.segments.push(segment);
    if (this.segments.length === 1) this.head = { seq: segment.seq, offset: 0 };
    this.active = { segment, fh };
    return this.active;
  }

  /** Stops appending to a segment; after a failed write, first cuts it back to its durable size. */
  private async seal(active: ActiveSegment, truncate: boolean): Promise<void> {
    if (this.active === active) this.active = undefined;
    await closeSegment(active, truncate);
  }

  /** Finds the segments a previous run left, resumes at the saved cursor, counts what is pending. */
  private async recover(): Promise<void> {
    const found = await scanSegments(this.opts.dir, this.nextSeq, this.opts);
    this.segments.push(...found.segments);
    this.nextSeq = found.nextSeq;
    this.head = found.head;
    this.pending += found.pending;
    this.totalBytes = this.segments.reduce((n, s) => n + s.size, 0);
    if (this.pending === 0 && this.segments.length > 0) {
      // Nothing to replay (only drained or corrupt bytes): start clean.
      await this.commit({ groups: [], events: 0, end: { seq: this.nextSeq, offset: 0 } });
    } else if (this.pending > 0) {
      this.opts.log?.warn({ events: this.pending, bytes: this.totalBytes, segments: this.segments.length }, 'spool: events from a previous run will be stored before new ones');
    }
    this.publish();
  }
}
