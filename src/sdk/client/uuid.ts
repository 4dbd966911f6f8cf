// Client-side event ids: UUIDv7 (time-ordered, like the server's), so a retried batch carries
// the same ids and the service stores each event once.

interface RandomSource {
  getRandomValues<T extends Uint8Array>(array: T): T;
}

// Web Crypto is global in browsers, Deno, Bun and Node 19+; Node 18 only has it as a module.
const webcrypto: RandomSource =
  (globalThis as { crypto?: RandomSource }).crypto ??
  ((await import('node:crypto')).webcrypto as unknown as RandomSource);

// One getRandomValues call per 256 ids: the call itself costs more than the bytes.
const POOL = new Uint8Array(16 * 256);
let poolOffset = POOL.length;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** RFC 9562 UUIDv7: 48-bit Unix milliseconds, version 7, variant 10, 74 random bits. */
export function uuidv7(ms: number = Date.now()): string {
  if (poolOffset === POOL.length) {
    webcrypto.getRandomValues(POOL);
    poolOffset = 0;
  }
  const b = POOL.slice(poolOffset, poolOffset + 16);
  poolOffset += 16;
  let t = Math.max(0, Math.trunc(ms));
  for (let i = 5; i >= 0; i--) {
    b[i] = t % 256;
    t = Math.floor(t / 256);
  }
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  let h = '';
  for (const x of b) h += HEX[x]!;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
