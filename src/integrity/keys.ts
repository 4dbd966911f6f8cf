// The integrity keys. Two secrets, each from the environment or, for development, generated once
// in the data dir (mode 0600) and reused:
//  - a master MAC key (32+ random bytes): chain hashes, personal-field MACs, retention cuts and
//    erasure marks are HMAC-SHA256 under keys derived from it, so nobody without it can forge a
//    link, even with full write access to the database;
//  - an Ed25519 key that signs checkpoints (compact JWS via jose); its public half is what an
//    auditor pins, and verification trusts only the public keys it is given.
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';

export const MAC_KEY_FILE = 'integrity-mac.key';
export const SIGNING_KEY_FILE = 'integrity-signing.pem';

export interface IntegrityKeyConfig {
  dataDir: string;
  key: string | undefined;
  signingKey: string | undefined;
  trustedKeysFile: string | undefined;
}

/** Purpose-bound MAC keys, derived from the master key so one leak or misuse cannot cross over. */
export interface MacKeys {
  /** Identifies the master key (not secret: a hash of a derived key). */
  id: string;
  chain: KeyObject;
  pii: KeyObject;
  cut: KeyObject;
  erasure: KeyObject;
  subject: KeyObject;
}

export interface PublicKeyEntry {
  kid: string;
  key: KeyObject;
  jwk: JWK;
}

export interface IntegrityKeys {
  mac: MacKeys;
  /** Absent when only verifying with a key set that cannot sign (never in a running service). */
  signer: { kid: string; key: KeyObject } | undefined;
  /** The signing key's public half as a JWK (with kid), for export. */
  publicJwk: JWK | undefined;
  /** Keys whose checkpoint signatures verification accepts, by kid. */
  trusted: Map<string, PublicKeyEntry>;
}

export class IntegrityKeyError extends Error {
  override name = 'IntegrityKeyError';
}

function derive(master: Buffer, purpose: string): Buffer {
  return crypto.createHmac('sha256', master).update(`audithouse/${purpose}/v1`).digest();
}

/** KeyObjects, not Buffers: HMAC with a prepared key object is markedly faster per call. */
export function macKeys(master: Buffer): MacKeys {
  const key = (purpose: string) => crypto.createSecretKey(derive(master, purpose));
  return {
    id: crypto.createHash('sha256').update(derive(master, 'key-id')).digest('hex').slice(0, 16),
    chain: key('chain'),
    pii: key('pii'),
    cut: key('cut'),
    erasure: key('erasure'),
    subject: key('subject'),
  };
}

function decodeMasterKey(text: string, where: string): Buffer {
  const t = text.trim();
  const bytes = /^[0-9a-fA-F]+$/.test(t) && t.length % 2 === 0 ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64url');
  if (bytes.length < 32) throw new IntegrityKeyError(`${where}: the integrity key must be at least 32 bytes (hex or base64), got ${bytes.length}`);
  return bytes;
}

/** Reads a file created once with `create` (exclusive, 0600); `create` false means it must exist. */
function readOrCreate(file: string, create: (() => string) | false): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (!create) return undefined;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const content = create();
  try {
    fs.writeFileSync(file, content, { mode: 0o600, flag: 'wx' });
    return content;
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return fs.readFileSync(file, 'utf8');
    throw err;
  }
}

async function publicEntry(key: KeyObject): Promise<PublicKeyEntry> {
  const jwk = await exportJWK(key);
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519') throw new IntegrityKeyError('checkpoint keys must be Ed25519');
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, key, jwk: { ...jwk, kid, alg: 'EdDSA', use: 'sig' } };
}

function parsePrivateKey(pem: string, where: string): KeyObject {
  let key: KeyObject;
  try {
    key = crypto.createPrivateKey(pem.includes('\\n') ? pem.replaceAll('\\n', '\n') : pem);
  } catch {
    throw new IntegrityKeyError(`${where}: not a PKCS#8 PEM private key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new IntegrityKeyError(`${where}: the signing key must be Ed25519, got ${key.asymmetricKeyType}`);
  return key;
}

/** Loads a JWKS file of Ed25519 public keys. */
export async function loadTrustedKeys(file: string): Promise<Map<string, PublicKeyEntry>> {
  let doc: { keys?: unknown };
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { keys?: unknown };
  } catch (err) {
    throw new IntegrityKeyError(`AUDIT_INTEGRITY_TRUSTED_KEYS: cannot read a JWKS from ${file} (${(err as Error).message})`);
  }
  if (!Array.isArray(doc.keys) || doc.keys.length === 0) throw new IntegrityKeyError(`AUDIT_INTEGRITY_TRUSTED_KEYS: ${file} has no "keys"`);
  const out = new Map<string, PublicKeyEntry>();
  for (const k of doc.keys as JWK[]) {
    if (k.kty !== 'OKP' || k.crv !== 'Ed25519' || typeof k.x !== 'string' || 'd' in k) {
      throw new IntegrityKeyError(`AUDIT_INTEGRITY_TRUSTED_KEYS: ${file} may hold only Ed25519 public keys`);
    }
    const entry = await publicEntry(crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: k.x }, format: 'jwk' }));
    out.set(entry.kid, entry);
  }
  return out;
}

/**
 * The keys in force. `create` (the service) generates missing development keys in the data dir;
 * without it (the `verify` command) a missing key is an error, since a new key verifies nothing.
 */
export async function loadIntegrityKeys(cfg: IntegrityKeyConfig, opts: { create: boolean }): Promise<IntegrityKeys> {
  const masterText = cfg.key
    ? cfg.key
    : readOrCreate(path.join(cfg.dataDir, MAC_KEY_FILE), opts.create ? () => crypto.randomBytes(32).toString('base64url') + '\n' : false);
  if (masterText === undefined) {
    throw new IntegrityKeyError(`no integrity key: set AUDIT_INTEGRITY_KEY or run where ${path.join(cfg.dataDir, MAC_KEY_FILE)} exists`);
  }
  const mac = macKeys(decodeMasterKey(masterText, cfg.key ? 'AUDIT_INTEGRITY_KEY' : MAC_KEY_FILE));

  const pem = cfg.signingKey
    ? cfg.signingKey
    : readOrCreate(path.join(cfg.dataDir, SIGNING_KEY_FILE), opts.create
      ? () => crypto.generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
      : false);
  let signer: IntegrityKeys['signer'];
  let own: PublicKeyEntry | undefined;
  if (pem !== undefined) {
    const key = parsePrivateKey(pem, cfg.signingKey ? 'AUDIT_INTEGRITY_SIGNING_KEY' : SIGNING_KEY_FILE);
    own = await publicEntry(crypto.createPublicKey(key));
    signer = { kid: own.kid, key };
  }
  // A pinned key set replaces the own key: an attacker who swapped the key file must not be trusted.
  const trusted = cfg.trustedKeysFile ? await loadTrustedKeys(cfg.trustedKeysFile) : new Map(own ? [[own.kid, own]] : []);
  if (trusted.size === 0) {
    throw new IntegrityKeyError('no checkpoint verification key: set AUDIT_INTEGRITY_TRUSTED_KEYS or AUDIT_INTEGRITY_SIGNING_KEY');
  }
  return { mac, signer, publicJwk: own?.jwk, trusted };
}
