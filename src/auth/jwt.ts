// JWT verification (jose) and minting. HS256 with AUDIT_JWT_SECRET, or a remote JWKS
// (AUDIT_JWKS_URL) whose keys are refetched when an unknown `kid` shows up, so rotation needs no
// restart. Algorithms are pinned: a token can never choose how it is verified.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SignJWT, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../config.ts';
import { problem } from '../problems.ts';
import { tenantIdProblem } from '../event/patterns.ts';
import type { Principal } from './principal.ts';

/** Real tokens are well under 2 KiB; anything larger is refused before any parsing or crypto. */
export const MAX_TOKEN_LENGTH = 8 * 1024;
/** Small allowance for clock skew between the issuer and us (exp, nbf). */
export const CLOCK_TOLERANCE_S = 30;
/**
 * Asymmetric algorithms accepted from a JWKS. Each is bound to its key type by jose's key
 * selection: an RS or PS token only matches `kty: RSA` keys, ES256 only EC P-256 keys, ES384 only
 * P-384, EdDSA/Ed25519 only OKP Ed25519; a JWK that declares `alg` is used with that alg only, and
 * only public keys with `use: sig` (or no `use`) qualify. HS256 is never accepted from a JWKS, so a
 * public key can never be abused as an HMAC secret (HS/RS confusion).
 */
export const JWKS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA', 'Ed25519'];
/** With a shared secret only HS256 is accepted. */
export const SECRET_ALGORITHMS = ['HS256'];
/** Matches what the claims must look like; no control characters in a tenant. */

export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
}

export interface VerifierOptions {
  secret?: string | undefined;
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** Minimum time between JWKS refetches triggered by an unknown `kid` (default 30 s). */
  jwksCooldownMs?: number | undefined;
  /** How long fetched JWKS keys are trusted without refetching (default 10 min). */
  jwksMaxAgeMs?: number | undefined;
  /** Longest lifetime (exp - iat, seconds) accepted; when set, iat and exp are required. */
  maxTtlS?: number | undefined;
}

/** The key source could not be reached: not the caller's fault, so 503 rather than 401. */
class KeySourceUnavailable extends Error {}

/**
 * A JWKS key resolver that tells "this token names no key we know" (the token's problem: 401)
 * apart from "we could not fetch the keys" (ours: 503).
 */
function remoteKeys(url: string, cooldownMs: number, maxAgeMs: number): JWTVerifyGetKey {
  const jwks = createRemoteJWKSet(new URL(url), { cooldownDuration: cooldownMs, cacheMaxAge: maxAgeMs, timeoutDuration: 5_000 });
  return async (header, token) => {
    try {
      return await jwks(header, token);
    } catch (err) {
      if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys || err instanceof joseErrors.JOSENotSupported) throw err;
      throw new KeySourceUnavailable(`JWKS unavailable: ${(err as Error).message}`, { cause: err });
    }
  };
}

export function createVerifier(opts: VerifierOptions): TokenVerifier {
  let key: Uint8Array | JWTVerifyGetKey;
  let algorithms: string[];
  if (opts.jwksUrl) {
    key = remoteKeys(opts.jwksUrl, opts.jwksCooldownMs ?? 30_000, opts.jwksMaxAgeMs ?? 10 * 60_000);
    algorithms = JWKS_ALGORITHMS;
  } else if (opts.secret) {
    key = new TextEncoder().encode(opts.secret);
    algorithms = SECRET_ALGORITHMS;
  } else {
    throw new Error('no JWT verification key: set AUDIT_JWT_SECRET or AUDIT_JWKS_URL');
  }
  // Verified tokens, kept briefly: a service posting events sends the same token with every
  // request, and verifying it (WebCrypto HMAC through jose) was the largest item in the ingest
  // CPU profile (bench/). A hit is the same token string, already verified with the same keys and
  // claims checks, still before its exp; entries live at most a minute so a key rotated out of
  // the JWKS stops being honoured soon after.
  const cache = new Map<string, { principal: Principal; until: number }>();
  return {
    async verify(token) {
      if (token.length > MAX_TOKEN_LENGTH) throw problem('unauthorized', `The bearer token is larger than ${MAX_TOKEN_LENGTH} bytes.`);
      const hit = cache.get(token);
      if (hit && hit.until > Date.now()) return hit.principal;
      if (hit) cache.delete(token);
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key as Uint8Array, {
          algorithms,
          clockTolerance: CLOCK_TOLERANCE_S,
          requiredClaims: opts.maxTtlS !== undefined ? ['exp', 'sub', 'iat'] : ['exp', 'sub'],
          ...(opts.issuer ? { issuer: opts.issuer } : {}),
          ...(opts.audience ? { audience: opts.audience } : {}),
        }));
      } catch (err) {
        if (err instanceof KeySourceUnavailable) {
          throw problem('auth-unavailable', 'The token signing keys cannot be fetched right now; retry shortly.');
        }
        throw problem('unauthorized', describeJoseError(err));
      }
      if (opts.maxTtlS !== undefined) {
        const why = lifetimeProblem(payload, opts.maxTtlS);
        if (why) throw problem('unauthorized', why);
      }
      const principal = principalFrom(payload);
      const until = Math.min(Date.now() + VERIFIED_CACHE_MS, typeof payload.exp === 'number' ? payload.exp * 1000 : 0);
      if (cache.size >= VERIFIED_CACHE_MAX) cache.delete(cache.keys().next().value!);
      if (until > Date.now()) cache.set(token, { principal, until });
      return principal;
    },
  };
}

const VERIFIED_CACHE_MS = 60_000;
const VERIFIED_CACHE_MAX = 10_000;

/**
 * Why a token lives longer than AUDIT_JWT_MAX_TTL allows, if it does. A leaked long-lived token is
 * a standing credential; the limit makes the issuer's choice checkable here. `iat` in the future
 * is refused too: otherwise a token could state a short exp - iat and still live for years.
 */
export function lifetimeProblem(payload: JWTPayload, maxTtlS: number, nowS = Date.now() / 1000): string | undefined {
  const { iat, exp } = payload;
  if (typeof iat !== 'number' || typeof exp !== 'number') return 'The bearer token must carry "iat" and "exp" claims (this service limits token lifetimes).';
  if (iat > nowS + CLOCK_TOLERANCE_S) return 'The bearer token\'s "iat" claim is in the future.';
  if (exp - iat > maxTtlS) {
    return `The bearer token is valid for ${Math.round(exp - iat)} s (exp - iat); this service accepts at most ${maxTtlS} s (AUDIT_JWT_MAX_TTL). Ask the issuer for a shorter-lived token.`;
  }
  return undefined;
}

/** Says why a token was refused without echoing any part of it. */
function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'The bearer token has expired.';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `The bearer token's "${err.claim}" claim is not acceptable (${err.reason}).`;
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'The bearer token was signed by a key this service does not know.';
  if (err instanceof joseErrors.JWKSMultipleMatchingKeys) return 'The bearer token was signed by a key this service does not know.';
  if (err instanceof joseErrors.JOSENotSupported && /crit|Extension Header/i.test(err.message)) return 'The bearer token carries a critical header extension this service does not support.';
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) return 'The bearer token uses a signing algorithm this service does not accept.';
  if (err instanceof TypeError && /modulusLength/.test(err.message)) return 'The bearer token was signed with an RSA key shorter than 2048 bits.';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'The bearer token signature is invalid.';
  return 'The bearer token is malformed or cannot be verified.';
}

/**
 * Why a sub or tenant_id claim cannot be used, if it cannot: these values are stored with every
 * event, so they follow the same rules as event fields (the CLI's `token` checks them too).
 */
export function claimProblem(name: 'sub' | 'tenant_id', value: unknown, max: number): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return `The bearer token has no usable "${name}" claim (a non-empty string).`;
  if (value.length > max) return `The bearer token's "${name}" claim is too long (at most ${max} characters).`;
  if (!value.isWellFormed() || /[\u0000-\u001F\u007F\u202A-\u202E\u2066-\u2069]/.test(value)) {
    return `The bearer token's "${name}" claim holds control characters or malformed Unicode.`;
  }
  // A tenant id follows the one rule of every path (src/event/patterns.ts): a token for "x'y" would
  // otherwise store events no query parameter, erasure or dashboard can name.
  const tenantProblem = name === 'tenant_id' ? tenantIdProblem(value) : undefined;
  if (tenantProblem) return `The bearer token's "tenant_id" claim ${tenantProblem}.`;
  return undefined;
}

function principalFrom(payload: JWTPayload): Principal {
  const tenant = payload.tenant_id;
  const scope = payload.scope;
  const why = claimProblem('sub', payload.sub, 256) ?? claimProblem('tenant_id', tenant, 128);
  if (why) throw problem('unauthorized', why);
  if (typeof scope !== 'string') throw problem('unauthorized', 'The bearer token has no "scope" claim (a space-separated string).');
  return { sub: payload.sub as string, tenantId: tenant as string, scopes: new Set(scope.split(/\s+/).filter(Boolean)) };
}

export interface MintOptions {
  tenant: string;
  scope: string;
  sub?: string;
  /** Lifetime in seconds (default 30 days). */
  expiresIn?: number;
  issuer?: string | undefined;
  audience?: string | undefined;
}

export async function mintToken(secret: string, o: MintOptions): Promise<string> {
  const jwt = new SignJWT({ tenant_id: o.tenant, scope: o.scope })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(o.sub ?? 'audithouse-cli')
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (o.expiresIn ?? 30 * 24 * 3600));
  if (o.issuer) jwt.setIssuer(o.issuer);
  if (o.audience) jwt.setAudience(o.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}

export const DEV_SECRET_FILE = 'dev-jwt-secret';

/**
 * With neither AUDIT_JWT_SECRET nor AUDIT_JWKS_URL, a development secret is created once in the
 * data dir (mode 0600) and reused. Returns it and whether it was just created.
 */
export function ensureDevSecret(dataDir: string): { secret: string; created: boolean; file: string } {
  const file = path.join(dataDir, DEV_SECRET_FILE);
  fs.mkdirSync(dataDir, { recursive: true });
  try {
    return { secret: fs.readFileSync(file, 'utf8').trim(), created: false, file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = crypto.randomBytes(32).toString('base64url');
  fs.writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  return { secret, created: true, file };
}

/** The HS256 secret in force: configured, or the data dir's dev secret (created on first use). */
export function resolveJwtSecret(config: Config): { secret: string | undefined; dev: ReturnType<typeof ensureDevSecret> | undefined } {
  if (config.jwt.secret) return { secret: config.jwt.secret, dev: undefined };
  if (config.jwt.jwksUrl) return { secret: undefined, dev: undefined };
  const dev = ensureDevSecret(config.dataDir);
  return { secret: dev.secret, dev };
}
