// Reads frames from one spool segment file, in order, through a read-ahead buffer. A bad frame
// is reported with the byte range to skip: the reader resynchronizes on the next frame whose
// magic AND checksum are valid, so one corrupted record costs that record, not the rest.
import type { FileHandle } from 'node:fs/promises';
import type { EventRow } from '../event/model.ts';
import { FRAME_MAGIC, HEADER_BYTES, checkFrame, decodeFrame } from './frame.ts';

const READ_AHEAD = 1024 * 1024;
const MAGIC_BYTES = Buffer.alloc(4);
MAGIC_BYTES.writeUInt32LE(FRAME_MAGIC, 0);

export type CorruptReason = 'torn' | 'checksum' | 'magic' | 'length' | 'payload';

export type SegmentItem =
  | { kind: 'frame'; offset: number; bytes: number; events: number; rows: EventRow[] | undefined }
  /** Bytes [offset, offset + bytes) hold no valid frame. `torn`: nothing valid follows (a crash mid-append). */
  | { kind: 'corrupt'; offset: number; bytes: number; reason: CorruptReason };

export class SegmentReader {
  private buf = Buffer.alloc(0);
  private bufStart = 0;

  constructor(private readonly fh: FileHandle) {}

  /** The item at file offset `pos`, reading no further than `end`; undefined at the end. */
  async next(pos: number, end: number, decode: boolean): Promise<SegmentItem | undefined> {
    if (pos >= end) return undefined;
    end = await this.ensure(pos, HEADER_BYTES, end);
    for (;;) {
      const off = pos - this.bufStart;
      const check = checkFrame(this.buf, off);
      if (check.kind === 'ok') {
        let rows: EventRow[] | undefined;
        try {
          rows = decode ? decodeFrame(this.buf, off, check.bytes) : undefined;
        } catch {
          // The checksum matched, so these are the bytes that were written, but not rows: never replay them.
          return { kind: 'corrupt', offset: pos, bytes: check.bytes, reason: 'payload' };
        }
        return { kind: 'frame', offset: pos, bytes: check.bytes, events: check.events, rows };
      }
      if (check.kind === 'short' && pos + check.need <= end && this.bufStart + this.buf.length < pos + check.need) {
        end = await this.ensure(pos, check.need, end);
        continue;
      }
      // Either invalid, or it claims to run past the end of the file: find the next good frame.
      const resume = await this.resync(pos + 1, end);
      if (resume === undefined) return { kind: 'corrupt', offset: pos, bytes: end - pos, reason: 'torn' };
      return { kind: 'corrupt', offset: pos, bytes: resume - pos, reason: check.kind === 'bad' ? check.reason : 'length' };
    }
  }

  /** Offset of the next valid frame at or after `from`, if there is one before `end`. */
  private async resync(from: number, end: number): Promise<number | undefined> {
    let pos = from;
    while (pos + HEADER_BYTES <= end) {
      end = await this.ensure(pos, READ_AHEAD, end);
      const at = this.buf.indexOf(MAGIC_BYTES, pos - this.bufStart);
      if (at < 0) {
        // Keep the last 3 bytes: a magic may straddle the read-ahead boundary.
        pos = Math.max(pos + 1, this.bufStart + this.buf.length - 3);
        continue;
      }
      const candidate = this.bufStart + at;
      end = await this.ensure(candidate, HEADER_BYTES, end);
      let check = checkFrame(this.buf, candidate - this.bufStart);
      if (check.kind === 'short' && candidate + check.need <= end) {
        end = await this.ensure(candidate, check.need, end);
        check = checkFrame(this.buf, candidate - this.bufStart);
      }
      if (check.kind === 'ok') return candidate;
      pos = candidate + 1;
    }
    return undefined;
  }

  /**
   * Makes the buffer cover [pos, min(pos + n, end)). Returns the end to believe from now on:
   * `end`, or less if the file turned out shorter (truncated under us).
   */
  private async ensure(pos: number, n: number, end: number): Promise<number> {
    const want = Math.min(pos + n, end);
    if (pos >= this.bufStart && want <= this.bufStart + this.buf.length) return end;
    const length = Math.min(Math.max(n, READ_AHEAD), end - pos);
    const buf = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await this.fh.read(buf, filled, length - filled, pos + filled);
      if (bytesRead === 0) break; // shorter than we were told: treat the rest as absent
      filled += bytesRead;
    }
    this.buf = buf.subarray(0, filled);
    this.bufStart = pos;
    return filled < length ? pos + filled : end;
  }

  /** Frees the read-ahead buffer (e.g. once the segment is drained). */
  reset(): void {
    this.buf = Buffer.alloc(0);
    this.bufStart = 0;
  }
}
