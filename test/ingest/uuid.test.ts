// Minted ids are RFC 9562 UUIDv7 of the given time, random in the rest, never repeated.
import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/event/ids.ts';

describe('uuidv7', () => {
  it('carries the millisecond time, version 7 and the RFC variant, and never repeats', () => {
    const seen = new Set<string>();
    for (const ms of [0, 1, 1_700_000_000_123, 2 ** 48 - 1, Date.now()]) {
      for (let i = 0; i < 2000; i++) {
        const id = uuidv7(ms);
        expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(ms);
        expect(seen.has(id)).toBe(false);
        seen.add(id);
      }
    }
  });
});
