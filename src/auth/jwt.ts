// JWT verification (jose) and minting. HS256 with AUDIT_JWT_SECRET, or a remote JWKS
// (AUDIT_JWKS_URL) whose keys are refetched when an unknown `kid` shows up, so rotation needs no
// restart. Algorithms are pinned: a token can never choose how it is verified.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SignJWT, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../config.ts';
import { unauthorized } from '../errors.ts';
import type { Principal } from './principal.ts';

const MAX_TOKEN_LENGTH = 8 * 1024;
const CLOCK_TOLERANCE_S = 30;
const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'];

export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
}

export function createVerifier(opts: {
  secret?: string | undefined;
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
}): TokenVerifier {
  let key: Uint8Array | JWTVerifyGetKey;
  let algorithms: string[];
  if (opts.jwksUrl) {
    key = createRemoteJWKSet(new URL(opts.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
    algorithms = ASYMMETRIC_ALGS;
  } else if (opts.secret) {
    key = new TextEncoder().encode(opts.secret);
    algorithms = ['HS256'];
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
      if (token.length > MAX_TOKEN_LENGTH) throw unauthorized('The bearer token is too large.');
      const hit = cache.get(token);
      if (hit && hit.until > Date.now()) return hit.principal;
      if (hit) cache.delete(token);
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key as Uint8Array, {
          algorithms,
          clockTolerance: CLOCK_TOLERANCE_S,
          requiredClaims: ['exp', 'sub'],
          ...(opts.issuer ? { issuer: opts.issuer } : {}),
          ...(opts.audience ? { audience: opts.audience } : {}),
        }));
      } catch (err) {
        throw unauthorized(describeJoseError(err));
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

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'The bearer token has expired.';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `The bearer token's "${err.claim}" claim is not acceptable (${err.reason}).`;
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'The bearer token was signed by a key this service does not know.';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'The bearer token uses a signing algorithm this service does not accept.';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'The bearer token signature is invalid.';
  return 'The bearer token is malformed or cannot be verified.';
}

function principalFrom(payload: JWTPayload): Principal {
  const tenant = payload.tenant_id;
  const scope = payload.scope;
  if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 256) {
    throw unauthorized('The bearer token has no usable "sub" claim.');
  }
  if (typeof tenant !== 'string' || !/^[^\u0000-\u001F\u007F]{1,128}$/.test(tenant)) {
    throw unauthorized('The bearer token has no usable "tenant_id" claim.');
  }
  if (typeof scope !== 'string') throw unauthorized('The bearer token has no "scope" claim.');
  return { sub: payload.sub, tenantId: tenant, scopes: new Set(scope.split(/\s+/).filter(Boolean)) };
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
