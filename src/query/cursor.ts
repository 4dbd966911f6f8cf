// Opaque keyset cursor: the (timestamp, id) of the last row of a page, base64url-encoded.
// A page continues strictly below that key, so rows inserted meanwhile never shift a page and
// every stored row is returned exactly once.
import { CANONICAL_UUID_RE } from '../event/patterns.ts';
import { problem } from '../problems.ts';
import type { Cursor } from '../store/activities.ts';

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([1, c.ts, c.id])).toString('base64url');
}

export function decodeCursor(s: string): Cursor {
  const invalid = () => problem('invalid-cursor', 'The cursor is not one this service issued; start again without it.');
  if (s.length > 200 || !/^[A-Za-z0-9_-]+$/.test(s)) throw invalid();
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(v) || v.length !== 3 || v[0] !== 1) throw invalid();
  const [, ts, id] = v as [number, unknown, unknown];
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0 || typeof id !== 'string' || !CANONICAL_UUID_RE.test(id)) throw invalid();
  return { ts, id };
}
