// The Ed25519 key that signs archive manifests, and the public keys that verify them.
//
// The private key comes from AUDIT_ARCHIVE_SIGNING_KEY (JWK JSON or PKCS#8 PEM) or from
// $AUDIT_DATA_DIR/archive-signing-key.jwk, generated on first use with mode 0600. It never goes
// next to the archives: archives are shipped to cold storage, and whoever holds them must be able
// to verify them, not forge them. The public key is exported into <archive root>/keys/ as JWK and
// PEM, named by its RFC 7638 thumbprint (the manifests' key_id). Error messages never include key
// material.
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CompactSign, calculateJwkThumbprint, compactVerify, decodeProtectedHeader, type JWK } from 'jose';
import type { Logger } from '../logger.ts';
import { writeFileDurable } from './files.ts';
import { KEYS_DIR, SIGNING_ALG } from './format.ts';

export const SIGNING_KEY_FILE = 'archive-signing-key.jwk';

export class SigningKeyError extends Error {
  override readonly name = 'SigningKeyError';
}

export interface ArchiveSigner {
  keyId: string;
  publicKey: KeyObject;
  publicJwk: JWK;
  /** A compact JWS (EdDSA) whose payload is `payload`, typed with `typ`. */
  sign(payload: string, typ: string): Promise<string>;
}

function assertEd25519(key: KeyObject, source: string): void {
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') {
    throw new SigningKeyError(`${source} must hold an Ed25519 private key (got a ${key.asymmetricKeyType ?? 'symmetric'} ${key.type} key)`);
  }
}

/** A key from its text, read by createPrivateKey or createPublicKey: a JWK when it is JSON, else a PEM. Throws what they throw. */
function readKey(text: string, read: (input: crypto.JsonWebKeyInput | { key: string; format: 'pem' }) => KeyObject): KeyObject {
  return text.startsWith('{') ? read({ key: JSON.parse(text) as crypto.JsonWebKey, format: 'jwk' }) : read({ key: text, format: 'pem' });
}

/** Parses AUDIT_ARCHIVE_SIGNING_KEY: a private JWK (OKP/Ed25519, with "d") or a PKCS#8 PEM. */
export function parseSigningKey(value: string, source = 'AUDIT_ARCHIVE_SIGNING_KEY'): KeyObject {
  const text = value.trim();
  let key: KeyObject;
  try {
    key = readKey(text, crypto.createPrivateKey);
  } catch {
    // The parser's message may quote the input: say what is wrong without it.
    throw new SigningKeyError(`${source} is not a readable private key: expected an Ed25519 private JWK (JSON with "d") or a PKCS#8 PEM`);
  }
  assertEd25519(key, source);
  return key;
}

/** Reads the data-dir key, or creates it (0600) when absent. */
function loadOrCreateKeyFile(dataDir: string, log?: Logger): KeyObject {
  const file = path.join(dataDir, SIGNING_KEY_FILE);
  fs.mkdirSync(dataDir, { recursive: true });
  if (!fs.existsSync(file)) {
    const { privateKey } = crypto.generateKeyPairSync('ed25519');
    const jwk = JSON.stringify(privateKey.export({ format: 'jwk' })) + '\n';
    try {
      // 'wx': if another process created it meanwhile, keep theirs (read below).
      const fd = fs.openSync(file, 'wx', 0o600);
      try {
        fs.writeSync(fd, jwk);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      log?.info({ file }, 'archive signing key generated');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const mode = fs.statSync(file).mode & 0o777;
  if (mode & 0o077) log?.warn({ file, mode: mode.toString(8) }, 'archive signing key is readable by others; chmod 600 it');
  return parseSigningKey(fs.readFileSync(file, 'utf8'), file);
}

export async function createSigner(privateKey: KeyObject): Promise<ArchiveSigner> {
  const publicKey = crypto.createPublicKey(privateKey);
  const exported = publicKey.export({ format: 'jwk' }) as JWK;
  const publicJwk: JWK = { kty: exported.kty!, crv: exported.crv!, x: exported.x! };
  const keyId = await calculateJwkThumbprint(publicJwk, 'sha256');
  return {
    keyId,
    publicKey,
    publicJwk,
    sign: (payload, typ) =>
      new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader({ alg: SIGNING_ALG, kid: keyId, typ }).sign(privateKey),
  };
}

export async function loadSigner(opts: { dataDir: string; envKey?: string | undefined; log?: Logger }): Promise<ArchiveSigner> {
  const key = opts.envKey ? parseSigningKey(opts.envKey) : loadOrCreateKeyFile(opts.dataDir, opts.log);
  return createSigner(key);
}

/** Writes keys/<kid>.jwk and keys/<kid>.pem under the archive root (once per key). */
export async function exportPublicKey(root: string, signer: ArchiveSigner): Promise<string> {
  const dir = path.join(root, KEYS_DIR);
  const jwkFile = path.join(dir, `${signer.keyId}.jwk`);
  if (!fs.existsSync(jwkFile)) {
    fs.mkdirSync(dir, { recursive: true });
    const pem = signer.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    await writeFileDurable(path.join(dir, `${signer.keyId}.pem`), pem);
    await writeFileDurable(jwkFile, JSON.stringify({ ...signer.publicJwk, kid: signer.keyId, alg: SIGNING_ALG, use: 'sig' }, null, 2) + '\n');
  }
  return jwkFile;
}

/** Public keys by key id (the thumbprint is computed here, never taken from the file). */
export type PublicKeySet = Map<string, KeyObject>;

/** Loads public keys from files (.jwk / .pem / .json) or directories of them. */
export async function loadPublicKeys(paths: string[]): Promise<PublicKeySet> {
  const keys: PublicKeySet = new Map();
  for (const p of paths) {
    const files = fs.statSync(p).isDirectory()
      ? fs.readdirSync(p).filter((f) => /\.(jwk|pem|json)$/.test(f)).map((f) => path.join(p, f))
      : [p];
    for (const file of files) {
      const text = fs.readFileSync(file, 'utf8').trim();
      let key: KeyObject;
      try {
        key = readKey(text, crypto.createPublicKey);
      } catch {
        throw new SigningKeyError(`${file} is not a public key (expected an Ed25519 JWK or SPKI PEM)`);
      }
      if (key.asymmetricKeyType !== 'ed25519') throw new SigningKeyError(`${file} is not an Ed25519 key`);
      // A private JWK or PEM given by mistake still yields only its public half here.
      const pub = key.type === 'private' ? crypto.createPublicKey(key) : key;
      const jwk = pub.export({ format: 'jwk' }) as JWK;
      keys.set(await calculateJwkThumbprint({ kty: jwk.kty!, crv: jwk.crv!, x: jwk.x! }, 'sha256'), pub);
    }
  }
  return keys;
}

export class SignatureError extends Error {
  override readonly name = 'SignatureError';
}

/** Verifies a compact JWS against the key set (EdDSA only, typ pinned) and returns its payload text. */
export async function verifySignature(jws: string, keys: PublicKeySet, typ: string): Promise<{ payload: string; keyId: string }> {
  let kid: string | undefined;
  try {
    const header = decodeProtectedHeader(jws);
    kid = header.kid;
    if (header.alg !== SIGNING_ALG) throw new SignatureError(`signature algorithm ${String(header.alg)} is not ${SIGNING_ALG}`);
    if (header.typ !== typ) throw new SignatureError(`signature is for a "${String(header.typ)}", not a "${typ}"`);
  } catch (err) {
    if (err instanceof SignatureError) throw err;
    throw new SignatureError('signature is not a compact JWS');
  }
  const key = kid ? keys.get(kid) : undefined;
  if (!key) throw new SignatureError(`signed by key ${kid ?? '(no kid)'}, which is not among the trusted public keys`);
  try {
    const { payload } = await compactVerify(jws, key, { algorithms: [SIGNING_ALG] });
    return { payload: new TextDecoder().decode(payload), keyId: kid! };
  } catch {
    throw new SignatureError(`signature does not verify with key ${kid}`);
  }
}
