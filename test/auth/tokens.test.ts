// Hostile tokens: each answers 401 problem+json on every /api endpoint and writes nothing.
// Verification runs against a real JWKS server on loopback (RS256, ES256, EdDSA keys) and, for
// the HS256 development mode, against the shared secret.
import crypto from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier } from '../../src/auth/jwt.ts';
import { apiEndpoints, requestFor, type Endpoint } from '../support/endpoints.ts';
import { createTestService, TEST_SECRET, type TestService, problemOf } from '../support/service.ts';
import { JwksServer, b64url, makeKey, nowS, sign, type Claims, type SigningKey } from '../support/jwks-server.ts';

const ISSUER = 'https://idp.example.test';
const AUDIENCE = 'audithouse';

let jwks: JwksServer;
let svc: TestService; // JWKS mode, issuer and audience enforced
let hs: TestService; // HS256 mode (AUDIT_JWT_SECRET)
let rsa: SigningKey;
let ec: SigningKey;
let ed: SigningKey;
let attacker: SigningKey;
let weak: { kid: string; privateKey: crypto.KeyObject };

const good = (over: Claims = {}): Claims => ({
  sub: 'alice', tenant_id: 'acme', scope: 'audit:read audit:write audit:admin',
  iss: ISSUER, aud: AUDIENCE, iat: nowS(), exp: nowS() + 600, ...over,
});
const without = (claim: string): Claims => {
  const c = good();
  delete c[claim];
  return c;
};
/** Signs with node:crypto directly (for keys jose refuses to sign with, e.g. 1024-bit RSA). */
function rawSign(header: Record<string, unknown>, claims: Claims, key: crypto.KeyObject | crypto.SignKeyObjectInput): string {
  const input = `${b64url(header)}.${b64url(claims)}`;
  return `${input}.${crypto.sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}
const keyObject = (k: SigningKey) => crypto.KeyObject.from(k.privateKey as Parameters<typeof crypto.KeyObject.from>[0]);
const hmac = (header: Record<string, unknown>, claims: Claims, secret: string | Buffer) => {
  const input = `${b64url(header)}.${b64url(claims)}`;
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
};

beforeAll(async () => {
  jwks = await new JwksServer().start();
  [rsa, ec, ed, attacker] = await Promise.all([
    makeKey('RS256', 'rsa-1'), makeKey('ES256', 'ec-1'), makeKey('EdDSA', 'ed-1'), makeKey('RS256', 'rsa-1'),
  ]);
  const w = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });
  weak = { kid: 'rsa-weak', privateKey: w.privateKey };
  jwks.publish(rsa, ec, ed);
  jwks.keys.push({ ...w.publicKey.export({ format: 'jwk' }), kid: 'rsa-weak', alg: 'RS256', use: 'sig' });
  svc = await createTestService({
    AUDIT_JWKS_URL: jwks.url, AUDIT_JWT_ISSUER: ISSUER, AUDIT_JWT_AUDIENCE: AUDIENCE,
    AUDIT_JWKS_COOLDOWN_MS: '200', AUDIT_ACCESS_LOG_ENABLED: 'true', AUDIT_ACCESS_LOG_WINDOW_MS: '10',
  });
  hs = await createTestService({ AUDIT_ACCESS_LOG_ENABLED: 'true', AUDIT_ACCESS_LOG_WINDOW_MS: '10' });
});
afterAll(async () => {
  await svc?.close();
  await hs?.close();
  await jwks?.stop();
});

interface HostileCase {
  name: string;
  /** The Authorization header (undefined: none). */
  header: () => Promise<string | undefined>;
  /** The reason the refusal must give, so a case cannot pass for an unrelated reason. */
  why?: RegExp;
}

const bearer = (t: string) => `Bearer ${t}`;

function jwksCorpus(): HostileCase[] {
  const rsaPublicPem = () => crypto.createPublicKey({ key: rsa.publicJwk as crypto.JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
  return [
    { name: 'no Authorization header', header: async () => undefined },
    { name: 'another scheme (Basic)', header: async () => 'Basic YWxpY2U6aHVudGVyMg==' },
    { name: '"Bearer" with no token', header: async () => 'Bearer' },
    { name: 'not a JWT', header: async () => bearer('not-a-jwt') },
    { name: 'three garbage segments', header: async () => bearer('a.b.c') },
    { name: 'two tokens in one header', header: async () => `${bearer(await sign(rsa, good()))} ${await sign(rsa, good())}` },
    { name: 'alg: none (unsecured JWT)', why: /algorithm/, header: async () => bearer(`${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(good())}.`) },
    { name: 'alg: none with a kid the service knows', why: /algorithm/, header: async () => bearer(`${b64url({ alg: 'none', kid: 'rsa-1' })}.${b64url(good())}.`) },
    { name: 'HS/RS confusion: HS256 keyed with the RSA public key (PEM)', why: /algorithm/, header: async () => bearer(hmac({ alg: 'HS256', kid: 'rsa-1' }, good(), rsaPublicPem())) },
    { name: 'HS/RS confusion: HS256 keyed with the RSA modulus', why: /algorithm/, header: async () => bearer(hmac({ alg: 'HS256', kid: 'rsa-1' }, good(), String(rsa.publicJwk.n))) },
    { name: 'HS256 with the development secret in JWKS mode', why: /algorithm/, header: async () => bearer(hmac({ alg: 'HS256' }, good(), TEST_SECRET)) },
    { name: 'wrong key under a known kid', why: /signature is invalid/, header: async () => bearer(await sign(attacker, good())) },
    { name: 'tampered payload (tenant changed, signature kept)', why: /signature is invalid/, header: async () => {
      const [h, , s] = (await sign(rsa, good())).split('.');
      return bearer(`${h}.${b64url(good({ tenant_id: 'globex' }))}.${s}`);
    } },
    { name: 'tampered payload (scope raised, signature kept)', why: /signature is invalid/, header: async () => {
      const [h, , s] = (await sign(rsa, good({ scope: 'audit:read' }))).split('.');
      return bearer(`${h}.${b64url(good())}.${s}`);
    } },
    { name: 'signature stripped', why: /signature is invalid/, header: async () => bearer((await sign(rsa, good())).split('.').slice(0, 2).join('.') + '.') },
    { name: 'expired (beyond the clock tolerance)', why: /expired/, header: async () => bearer(await sign(ec, good({ exp: nowS() - 120 }))) },
    { name: 'not yet valid (nbf in 10 minutes)', why: /"nbf"/, header: async () => bearer(await sign(ec, good({ nbf: nowS() + 600 }))) },
    { name: 'wrong issuer', why: /"iss"/, header: async () => bearer(await sign(ed, good({ iss: 'https://evil.example' }))) },
    { name: 'no issuer', why: /"iss"/, header: async () => bearer(await sign(ed, without('iss'))) },
    { name: 'wrong audience', why: /"aud"/, header: async () => bearer(await sign(ed, good({ aud: 'another-service' }))) },
    { name: 'no audience', why: /"aud"/, header: async () => bearer(await sign(ed, without('aud'))) },
    { name: 'missing sub', why: /"sub"/, header: async () => bearer(await sign(rsa, without('sub'))) },
    { name: 'missing tenant_id', why: /"tenant_id"/, header: async () => bearer(await sign(rsa, without('tenant_id'))) },
    { name: 'missing scope', why: /"scope"/, header: async () => bearer(await sign(rsa, without('scope'))) },
    { name: 'missing exp', why: /"exp"/, header: async () => bearer(await sign(rsa, without('exp'))) },
    { name: 'scope as an array', why: /"scope"/, header: async () => bearer(await sign(rsa, good({ scope: ['audit:admin'] }))) },
    { name: 'tenant_id empty', why: /"tenant_id"/, header: async () => bearer(await sign(rsa, good({ tenant_id: '' }))) },
    { name: 'tenant_id with control characters', why: /"tenant_id"/, header: async () => bearer(await sign(rsa, good({ tenant_id: 'acme\u0000\nglobex' }))) },
    { name: 'exp not a number', why: /"exp"/, header: async () => bearer(await sign(rsa, good({ exp: 'never' }))) },
    { name: 'huge token (valid signature, 20 KB of claims)', why: /larger than/, header: async () => bearer(await sign(rsa, good({ pad: 'x'.repeat(20_000) }))) },
    { name: 'unknown kid', why: /does not know/, header: async () => bearer(await sign({ ...attacker, kid: 'kid-nobody-published' }, good())) },
    { name: 'no kid, signed by an unpublished key', why: /does not know/, header: async () => bearer(await new SignJWT(good()).setProtectedHeader({ alg: 'RS256' }).sign(attacker.privateKey)) },
    { name: 'embedded jwk header (attacker key travels in the token)', why: /does not know/, header: async () =>
      bearer(await new SignJWT(good()).setProtectedHeader({ alg: 'RS256', jwk: attacker.publicJwk }).sign(attacker.privateKey)) },
    { name: 'jku header pointing at another key set', why: /does not know/, header: async () => bearer(await sign({ ...attacker, kid: 'evil' }, good(), { jku: 'http://127.0.0.1:9/jwks.json' })) },
    { name: 'alg/key-type mismatch: RS256 naming the EC key', why: /does not know/, header: async () => bearer(await sign({ ...attacker, kid: 'ec-1' }, good())) },
    { name: 'alg pinned by the JWK: PS256 with an RS256-declared key', why: /does not know/, header: async () =>
      bearer(rawSign({ alg: 'PS256', kid: 'rsa-1' }, good(), { key: keyObject(rsa), padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })) },
    { name: 'published RSA key below 2048 bits', why: /2048 bits/, header: async () => bearer(rawSign({ alg: 'RS256', kid: weak.kid }, good(), weak.privateKey)) },
    { name: 'unknown critical header', why: /critical header/, header: async () =>
      bearer(rawSign({ alg: 'RS256', kid: 'rsa-1', crit: ['x-must-understand'], 'x-must-understand': true }, good(), keyObject(rsa))) },
  ];
}

function hsCorpus(): HostileCase[] {
  const claims = (over: Claims = {}): Claims => ({ sub: 'alice', tenant_id: 'acme', scope: 'audit:read audit:write audit:admin', exp: nowS() + 600, ...over });
  const hsSign = (c: Claims, alg = 'HS256', secret = TEST_SECRET) => new SignJWT(c).setProtectedHeader({ alg }).sign(new TextEncoder().encode(secret));
  return [
    { name: 'no Authorization header', header: async () => undefined },
    { name: 'alg: none', header: async () => bearer(`${b64url({ alg: 'none' })}.${b64url(claims())}.`) },
    { name: 'RS256 token (no JWKS configured)', header: async () => bearer(await sign(attacker, claims())) },
    { name: 'HS256 with a wrong secret', header: async () => bearer(await hsSign(claims(), 'HS256', 'another-secret-0123456789-0123456789')) },
    { name: 'HS512 with the right secret (algorithm pinned to HS256)', header: async () => bearer(await hsSign(claims(), 'HS512')) },
    { name: 'tampered payload', header: async () => {
      const [h, , s] = (await hsSign(claims({ tenant_id: 'acme' }))).split('.');
      return bearer(`${h}.${b64url(claims({ tenant_id: 'globex' }))}.${s}`);
    } },
    { name: 'expired', header: async () => bearer(await hsSign(claims({ exp: nowS() - 120 }))) },
    { name: 'not yet valid', header: async () => bearer(await hsSign(claims({ nbf: nowS() + 600 }))) },
    { name: 'missing exp', header: async () => bearer(await hsSign({ sub: 'alice', tenant_id: 'acme', scope: 'audit:admin' })) },
    { name: 'missing sub', header: async () => bearer(await hsSign(claims({ sub: undefined }))) },
    { name: 'missing tenant_id', header: async () => bearer(await hsSign(claims({ tenant_id: undefined }))) },
    { name: 'huge token', header: async () => bearer(await hsSign(claims({ pad: 'y'.repeat(20_000) }))) },
  ];
}

async function expect401Everywhere(t: TestService, endpoints: Endpoint[], c: HostileCase) {
  const header = await c.header();
  for (const e of endpoints) {
    const res = await t.app.request(...requestFor(e, header));
    const label = `${c.name} → ${e.method} ${e.url}`;
    expect(res.status, label).toBe(401);
    expect(res.headers.get('content-type'), label).toBe('application/problem+json');
    expect(res.headers.get('www-authenticate'), label).toBe('Bearer');
    const body = await problemOf(res);
    if (c.why) expect(body.detail, label).toMatch(c.why);
    expect(body, label).toMatchObject({ status: 401, type: 'https://audithouse.dev/problems/unauthorized' });
    // The refusal never echoes the token back.
    if (header && header.length > 20) expect(body.detail, label).not.toContain(header.slice(7, 40));
  }
}

async function settledCount(t: TestService): Promise<number> {
  await t.services.accessLog?.flush();
  await t.services.writer.flush();
  return t.count();
}

describe('hostile tokens, JWKS mode (real JWKS server on loopback)', () => {
  it('valid RS256, ES256 and EdDSA tokens are accepted (the corpus fails for its own reasons)', async () => {
    for (const key of [rsa, ec, ed]) {
      const token = await sign(key, good());
      expect((await svc.get('/api/v1/audit/activities', { token })).status, key.alg).toBe(200);
      expect((await svc.post({ activity_type: 'user.login', action: 'login' }, { token })).status, key.alg).toBe(202);
    }
    // Within the clock tolerance, a just-expired token still passes.
    expect((await svc.get('/api/v1/audit/activities', { token: await sign(rsa, good({ exp: nowS() - 5 })) })).status).toBe(200);
  });

  it('covers at least 15 cases and every /api endpoint, including an unknown path', () => {
    expect(jwksCorpus().length).toBeGreaterThanOrEqual(15);
    const endpoints = apiEndpoints(svc.app);
    expect(endpoints.map((e) => `${e.method} ${e.template}`)).toEqual(expect.arrayContaining([
      'POST /api/v1/audit/activities', 'GET /api/v1/audit/activities', 'GET /api/v1/audit/activities/recent',
      'GET /api/v1/audit/activities/{id}', 'GET /api/v1/audit/export',
    ]));
  });

  for (const c of jwksCorpus()) {
    it(`401 on every endpoint, nothing written: ${c.name}`, async () => {
      const before = await settledCount(svc);
      const endpoints = [...apiEndpoints(svc.app), { method: 'GET', template: '/api/v1/nope', url: '/api/v1/nope' } as Endpoint];
      await expect401Everywhere(svc, endpoints, c);
      expect(await settledCount(svc)).toBe(before);
    });
  }
});

describe('hostile tokens, HS256 mode (AUDIT_JWT_SECRET)', () => {
  it('a valid HS256 token is accepted', async () => {
    expect((await hs.get('/api/v1/audit/activities')).status).toBe(200);
  });
  for (const c of hsCorpus()) {
    it(`401 on every endpoint, nothing written: ${c.name}`, async () => {
      const before = await settledCount(hs);
      await expect401Everywhere(hs, apiEndpoints(hs.app), c);
      expect(await settledCount(hs)).toBe(before);
    });
  }
});

describe('JWKS key rotation and key-source failures', () => {
  it('a new kid is picked up without restart, and the retired key stops working', async () => {
    const next = await makeKey('RS256', 'rsa-2');
    const tokenNext = await sign(next, good());
    const tokenOld = await sign(rsa, good());
    expect((await svc.get('/api/v1/audit/activities', { token: tokenNext })).status).toBe(401);
    // The identity provider rotates: rsa-2 in, rsa-1 out.
    jwks.publish(next, ec, ed);
    await new Promise((r) => setTimeout(r, 250)); // past AUDIT_JWKS_COOLDOWN_MS
    const before = jwks.hits;
    expect((await svc.get('/api/v1/audit/activities', { token: tokenNext })).status).toBe(200);
    expect(jwks.hits).toBe(before + 1);
    await new Promise((r) => setTimeout(r, 250));
    expect((await svc.get('/api/v1/audit/activities', { token: tokenOld })).status).toBe(401);
    jwks.publish(rsa, ec, ed);
  });

  it('unknown kids cannot make the service hammer the JWKS endpoint (refetch cooldown)', async () => {
    const verifier = createVerifier({ jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE, jwksCooldownMs: 60_000 });
    await verifier.verify(await sign(rsa, good()));
    const before = jwks.hits;
    const unknown = await Promise.all(Array.from({ length: 50 }, (_, i) => sign({ ...attacker, kid: `random-${i}` }, good())));
    const results = await Promise.allSettled(unknown.map((t) => verifier.verify(t)));
    expect(results.every((r) => r.status === 'rejected' && (r.reason as { status: number }).status === 401)).toBe(true);
    expect(jwks.hits - before).toBeLessThanOrEqual(1);
  });

  it('an unreachable JWKS answers 503 problem+json with Retry-After, not 401 and not 500', async () => {
    const dead = await new JwksServer().start();
    const url = dead.url;
    await dead.stop();
    const t = await createTestService({ AUDIT_JWKS_URL: url });
    try {
      const before = await t.count();
      const res = await t.get('/api/v1/audit/activities', { token: await sign(rsa, good({ iss: undefined, aud: undefined })) });
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.headers.get('retry-after')).toBe('5');
      expect((await problemOf(res)).type).toMatch(/auth-unavailable$/);
      expect(await t.count()).toBe(before);
    } finally {
      await t.close();
    }
  });
});
