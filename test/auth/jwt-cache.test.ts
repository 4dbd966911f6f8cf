// Verified tokens are remembered briefly, and only the exact token that was verified.
import { describe, expect, it } from 'vitest';
import { createVerifier, mintToken } from '../../src/auth/jwt.ts';
import { TEST_SECRET } from '../support/service.ts';

describe('verified-token cache', () => {
  it('answers a repeated token from the cache and still refuses a tampered or foreign one', async () => {
    const verifier = createVerifier({ secret: TEST_SECRET });
    const token = await mintToken(TEST_SECRET, { tenant: 'acme', scope: 'audit:write', sub: 'svc' });
    const first = await verifier.verify(token);
    expect(await verifier.verify(token)).toBe(first); // the same principal object: a cache hit
    const [h, p, sig] = token.split('.');
    const flipped = `${h}.${p}.${sig!.slice(0, -2)}${sig!.at(-2) === 'A' ? 'B' : 'A'}${sig!.at(-1)}`;
    await expect(verifier.verify(flipped)).rejects.toMatchObject({ status: 401 });
    const other = await mintToken('another-secret-0123456789-0123456789-xyz', { tenant: 'acme', scope: 'audit:admin', sub: 'svc' });
    await expect(verifier.verify(other)).rejects.toMatchObject({ status: 401 });
  });

  it('does not keep a token past its exp', async () => {
    const verifier = createVerifier({ secret: TEST_SECRET });
    // exp already 10 s in the past: jose still accepts it (30 s clock tolerance), the cache must not hold it.
    const token = await mintToken(TEST_SECRET, { tenant: 'acme', scope: 'audit:write', sub: 'svc', expiresIn: -10 });
    const first = await verifier.verify(token);
    expect(await verifier.verify(token)).not.toBe(first); // verified again, not served from the cache
  });
});
