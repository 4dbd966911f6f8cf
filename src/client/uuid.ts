// Client-side event ids: UUIDv7 (time-ordered, like the server's), so a retried batch carries
// the same ids and the service stores each event once.

interface RandomSource {
  getRandomValues<T extends Uint8Array>(array: T): T;
}

// Web Crypto is global in browsers, Deno, Bun and Node 19+; Node 18 only has it as a module.
const webcrypto: RandomSource =
  (globalThis as { crypto?: RandomSource }).crypto ??
  ((await import('node:crypto')).webcrypto as unknown as RandomSource);

/** RFC 9562 UUIDv7: 48-bit Unix milliseconds, version 7, variant 10, 74 random bits. */
export function uuidv7(ms: number = Date.now()): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  let t = Math.max(0, Math.trunc(ms));
  for (let i = 5; i >= 0; i--) {
    b[i] = t % 256;
    t = Math.floor(t / 256);
  }
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  let h = '';
  for (const x of b) h += x.toString(16).padStart(2, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
