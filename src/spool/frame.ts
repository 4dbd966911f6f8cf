// The spool's on-disk record: a length-prefixed frame with a checksum, so a torn write (crash
// in the middle of an append) or a flipped bit is detected instead of replayed as garbage.
//
//   offset 0  u32 LE  magic "AHS1" (format version 1; also the resync marker after corruption)
//          4  u32 LE  payload length in bytes
//          8  u32 LE  number of events in the payload (counted without parsing it)
//         12  u32 LE  CRC-32 of bytes 4..11 followed by the payload
//         16  payload: UTF-8 JSON array of EventRow objects (one ingest request)
//
// The checksum covers the length and count too, so a corrupted length cannot send the reader
// to a plausible-looking but wrong frame boundary.
import zlib from 'node:zlib';
import type { EventRow } from '../event/model.ts';

export const FRAME_MAGIC = Buffer.from('AHS1', 'latin1').readUInt32LE(0);
export const HEADER_BYTES = 16;
/** One request is at most 10 MiB of JSON on the wire; its rows serialize to about as much. Anything far larger is corruption. */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024;

// zlib.crc32 is native (Node >= 20.15): a well-kept implementation, no dependency.
const nativeCrc32 = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
if (typeof nativeCrc32 !== 'function') throw new Error('the spool needs zlib.crc32: Node.js 20.15 or newer');
const crc32 = nativeCrc32;

function checksum(header: Buffer, payload: Buffer): number {
  return crc32(payload, crc32(header.subarray(4, 12))) >>> 0;
}

export function encodeFrame(rows: readonly EventRow[]): Buffer {
  const payload = Buffer.from(JSON.stringify(rows), 'utf8');
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame.writeUInt32LE(FRAME_MAGIC, 0);
  frame.writeUInt32LE(payload.length, 4);
  frame.writeUInt32LE(rows.length, 8);
  payload.copy(frame, HEADER_BYTES);
  frame.writeUInt32LE(checksum(frame, payload), 12);
  return frame;
}

export type FrameCheck =
  | { kind: 'ok'; bytes: number; events: number }
  /** The buffer ends before the frame does: read more, or it is a torn tail. */
  | { kind: 'short'; need: number }
  | { kind: 'bad'; reason: 'magic' | 'length' | 'checksum' };

/** Validates the frame starting at `pos` in `buf` (which must hold at least the header to decide). */
export function checkFrame(buf: Buffer, pos: number): FrameCheck {
  if (buf.length - pos < HEADER_BYTES) return { kind: 'short', need: HEADER_BYTES };
  if (buf.readUInt32LE(pos) !== FRAME_MAGIC) return { kind: 'bad', reason: 'magic' };
  const length = buf.readUInt32LE(pos + 4);
  if (length > MAX_PAYLOAD_BYTES) return { kind: 'bad', reason: 'length' };
  const total = HEADER_BYTES + length;
  if (buf.length - pos < total) return { kind: 'short', need: total };
  const header = buf.subarray(pos, pos + HEADER_BYTES);
  const payload = buf.subarray(pos + HEADER_BYTES, pos + total);
  if (checksum(header, payload) !== header.readUInt32LE(12)) return { kind: 'bad', reason: 'checksum' };
  return { kind: 'ok', bytes: total, events: header.readUInt32LE(8) };
}

/** The rows of a frame that checkFrame accepted. */
export function decodeFrame(buf: Buffer, pos: number, bytes: number): EventRow[] {
  const rows = JSON.parse(buf.toString('utf8', pos + HEADER_BYTES, pos + bytes)) as unknown;
  if (!Array.isArray(rows) || rows.length !== buf.readUInt32LE(pos + 8)) throw new Error('frame payload is not its rows');
  return rows as EventRow[];
}
