// The manifest chain on disk: finding the files, reading and checking one signed manifest, and
// the signed HEAD that names the newest manifest.
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { fsyncDir, listFiles, sha256Hex, writeFileDurable } from './files.ts';
import {
  ArchiveManifestSchema,
  ChainHeadSchema,
  HEAD_FILE,
  HEAD_FORMAT,
  HEAD_TYP,
  KEYS_DIR,
  LOCK_FILE,
  MANIFEST_TYP,
  QUARANTINE_DIR,
  TEMP_SUFFIX,
  archivePaths,
  parseArchiveName,
  signedDocument,
  type ArchiveManifest,
  type ArchiveManifestBody,
  type ChainHeadBody,
} from './format.ts';
import { verifySignature, type ArchiveSigner, type PublicKeySet } from './keys.ts';

/** Something wrong with one named file of an archive directory. */
export class ArchiveFileError extends Error {
  override readonly name = 'ArchiveFileError';
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
  }
}

export interface ArchiveLayout {
  /** seq → relative path of its manifest / data file. */
  manifests: Map<number, string>;
  data: Map<number, string>;
  /** Unfinished writes (*.partial). */
  temps: string[];
  /** Files that are not part of the layout, and second files claiming an already-seen seq. */
  unexpected: string[];
  hasHead: boolean;
}

export function scanLayout(root: string): ArchiveLayout {
  const layout: ArchiveLayout = { manifests: new Map(), data: new Map(), temps: [], unexpected: [], hasHead: false };
  for (const rel of listFiles(root, [KEYS_DIR, QUARANTINE_DIR])) {
    if (rel === HEAD_FILE) {
      layout.hasHead = true;
      continue;
    }
    if (rel === LOCK_FILE) continue;
    if (rel.endsWith(TEMP_SUFFIX)) {
      layout.temps.push(rel);
      continue;
    }
    const name = parseArchiveName(path.posix.basename(rel));
    if (!name) {
      layout.unexpected.push(rel);
      continue;
    }
    const map = name.kind === 'manifest' ? layout.manifests : layout.data;
    if (map.has(name.seq)) layout.unexpected.push(rel);
    else map.set(name.seq, rel);
  }
  return layout;
}

export interface LoadedManifest {
  rel: string;
  manifest: ArchiveManifest;
  body: ArchiveManifestBody;
  /** SHA-256 of the manifest file's bytes: what the next manifest (or HEAD) chains to. */
  sha256: string;
}

/** Reads one manifest and proves it: schema, signature over exactly these fields, name ↔ content. */
export async function readManifest(root: string, rel: string, keys: PublicKeySet): Promise<LoadedManifest> {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(path.join(root, rel));
  } catch {
    throw new ArchiveFileError(rel, 'manifest cannot be read');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ArchiveFileError(rel, 'manifest is not valid JSON');
  }
  const result = ArchiveManifestSchema.safeParse(parsed);
  if (!result.success) {
    throw new ArchiveFileError(rel, `manifest is malformed (${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`);
  }
  const { signature, ...body } = result.data;
  let signed: { payload: string; keyId: string };
  try {
    signed = await verifySignature(signature, keys, MANIFEST_TYP);
  } catch (err) {
    throw new ArchiveFileError(rel, (err as Error).message);
  }
  let payload: unknown;
  try {
    payload = JSON.parse(signed.payload);
  } catch {
    throw new ArchiveFileError(rel, 'signed payload is not JSON');
  }
  if (!isDeepStrictEqual(payload, body)) throw new ArchiveFileError(rel, 'manifest fields differ from what was signed');
  if (body.key_id !== signed.keyId) throw new ArchiveFileError(rel, 'key_id does not name the signing key');
  // The name says where the manifest belongs in the chain; it must agree with the signed content,
  // so renaming (reordering) files is caught even where hashes would still chain.
  const name = parseArchiveName(path.posix.basename(rel));
  const expected = archivePaths(body.seq, body.partition, body.severity);
  if (!name || name.kind !== 'manifest' || rel !== expected.manifest) {
    throw new ArchiveFileError(rel, `manifest says it is ${expected.manifest} (seq ${body.seq})`);
  }
  if (body.file !== expected.data) throw new ArchiveFileError(rel, `manifest names data file ${body.file}, expected ${expected.data}`);
  return { rel, manifest: result.data, body, sha256: sha256Hex(raw) };
}

export async function renderManifest(body: ArchiveManifestBody, signer: ArchiveSigner): Promise<string> {
  return signedDocument(body, await signer.sign(JSON.stringify(body), MANIFEST_TYP));
}

export async function writeHead(
  root: string,
  head: { seq: number; manifest: string; manifest_sha256: string },
  signer: ArchiveSigner,
): Promise<void> {
  const body: ChainHeadBody = {
    format: HEAD_FORMAT,
    seq: head.seq,
    manifest: head.manifest,
    manifest_sha256: head.manifest_sha256,
    updated_at: new Date().toISOString(),
    key_id: signer.keyId,
  };
  const doc = signedDocument(body, await signer.sign(JSON.stringify(body), HEAD_TYP));
  await writeFileDurable(path.join(root, HEAD_FILE), doc);
}

/** The signed HEAD, or undefined when there is none. Throws ArchiveFileError when it does not verify. */
export async function readHead(root: string, keys: PublicKeySet): Promise<ChainHeadBody | undefined> {
  const file = path.join(root, HEAD_FILE);
  if (!fs.existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    throw new ArchiveFileError(HEAD_FILE, 'not valid JSON');
  }
  const result = ChainHeadSchema.safeParse(parsed);
  if (!result.success) throw new ArchiveFileError(HEAD_FILE, 'malformed');
  const { signature, ...body } = result.data;
  let payload: string;
  try {
    ({ payload } = await verifySignature(signature, keys, HEAD_TYP));
  } catch (err) {
    throw new ArchiveFileError(HEAD_FILE, (err as Error).message);
  }
  if (!isDeepStrictEqual(JSON.parse(payload), body)) throw new ArchiveFileError(HEAD_FILE, 'fields differ from what was signed');
  return body;
}

/** Moves a file aside (never deletes an archive file that may matter), keeping its relative path. */
export async function quarantine(root: string, rel: string, stamp: string): Promise<string> {
  const target = path.join(root, QUARANTINE_DIR, stamp, rel);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.renameSync(path.join(root, rel), target);
  await fsyncDir(path.dirname(path.join(root, rel)));
  return path.relative(root, target);
}
