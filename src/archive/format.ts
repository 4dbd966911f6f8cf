// The on-disk archive format: names, the manifest and the chain head. Kept free of ClickHouse so
// that `archive verify` runs anywhere with only the files and a public key.
//
// Layout under AUDIT_ARCHIVE_LOCATION:
//   keys/<kid>.jwk, keys/<kid>.pem          public keys (Ed25519) that signed manifests
//   HEAD.json                               signed pointer to the newest manifest (catches a cut tail)
//   <YYYYMM>/<seq>-<YYYYMM>-<SEVERITY>.ndjson.gz       the rows (gzip NDJSON, one stored row a line)
//   <YYYYMM>/<seq>-<YYYYMM>-<SEVERITY>.manifest.json   what the file holds, signed, chained
import { z } from 'zod';
import { MONTH_PARTITION_RE } from '../event/patterns.ts';

export const ARCHIVE_FORMAT = 'audithouse-archive/1';
export const HEAD_FORMAT = 'audithouse-archive-head/1';
/** JWS `typ` headers: a HEAD signature can never pass as a manifest signature, nor the reverse. */
export const MANIFEST_TYP = 'audithouse-archive-manifest+json';
export const HEAD_TYP = 'audithouse-archive-head+json';
/** prev_manifest_sha256 of the first archive. */
export const GENESIS_HASH = '0'.repeat(64);
export const SIGNING_ALG = 'EdDSA';

export const KEYS_DIR = 'keys';
export const HEAD_FILE = 'HEAD.json';
export const LOCK_FILE = '.retention.lock';
export const QUARANTINE_DIR = 'quarantine';
/** Suffix of files being written; a file with it was never finished and is discarded by the next run. */
export const TEMP_SUFFIX = '.partial';

const SEQ_DIGITS = 8;
const NAME_RE = /^(\d{8,})-(\d{6})-([A-Z]+)\.(ndjson\.gz|manifest\.json)$/;
const SHA256_RE = /^[0-9a-f]{64}$/;

export interface ArchiveName {
  seq: number;
  partition: string;
  severity: string;
  kind: 'data' | 'manifest';
}

/** Paths relative to the archive root, always with '/' (they are written into manifests). */
export function archivePaths(seq: number, partition: string, severity: string): { data: string; manifest: string } {
  const base = `${String(seq).padStart(SEQ_DIGITS, '0')}-${partition}-${severity}`;
  return { data: `${partition}/${base}.ndjson.gz`, manifest: `${partition}/${base}.manifest.json` };
}

export function parseArchiveName(fileName: string): ArchiveName | undefined {
  const m = NAME_RE.exec(fileName);
  if (!m) return undefined;
  return { seq: Number(m[1]), partition: m[2]!, severity: m[3]!, kind: m[4] === 'ndjson.gz' ? 'data' : 'manifest' };
}

const Sha256 = z.string().regex(SHA256_RE, 'must be a lowercase hex SHA-256');
const IsoTime = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, 'must be an ISO-8601 UTC time');

export const ArchiveColumnSchema = z.strictObject({ name: z.string().min(1), type: z.string().min(1) });
export type ArchiveColumn = z.infer<typeof ArchiveColumnSchema>;

/**
 * What one archive file holds. Signed (detached from nothing: the JWS carries these exact fields
 * as its payload) and chained: prev_manifest_sha256 is the SHA-256 of the previous manifest FILE,
 * so any byte changed in an earlier manifest, or a manifest removed or reordered, breaks the chain.
 */
export const ArchiveManifestBodySchema = z.strictObject({
  format: z.literal(ARCHIVE_FORMAT),
  seq: z.number().int().min(1),
  partition: z.string().regex(MONTH_PARTITION_RE),
  severity: z.string().min(1),
  /** Data file, relative to the archive root. */
  file: z.string().min(1),
  /** SHA-256 and size of the data file's bytes (the gzip file as stored). */
  file_sha256: Sha256,
  file_bytes: z.number().int().min(0),
  row_count: z.number().int().min(1),
  /** Oldest and newest `timestamp` in the file. */
  first_timestamp: IsoTime,
  last_timestamp: IsoTime,
  /** Every row has timestamp < cutoff: the retention cut-off of the run that wrote it. */
  cutoff: IsoTime,
  /** Highest ClickHouse migration applied when written; `columns` is the exact row shape. */
  schema_version: z.number().int().min(0),
  columns: z.array(ArchiveColumnSchema).min(1),
  created_at: IsoTime,
  /** JWK thumbprint (RFC 7638) of the public key that verifies the signature. */
  key_id: z.string().min(1),
  prev_manifest_sha256: Sha256,
  /** Set when this archive supersedes an earlier one's data file (e.g. rewritten by an erasure). */
  replaces: z.number().int().min(1).optional(),
  reason: z.string().optional(),
});
export type ArchiveManifestBody = z.infer<typeof ArchiveManifestBodySchema>;

export const ArchiveManifestSchema = ArchiveManifestBodySchema.extend({ signature: z.string().min(1) });
export type ArchiveManifest = z.infer<typeof ArchiveManifestSchema>;

/** HEAD.json: the newest manifest of the chain, signed, so removing the newest archives is detected. */
export const ChainHeadBodySchema = z.strictObject({
  format: z.literal(HEAD_FORMAT),
  seq: z.number().int().min(0),
  manifest: z.string(),
  manifest_sha256: Sha256,
  updated_at: IsoTime,
  key_id: z.string().min(1),
});
export type ChainHeadBody = z.infer<typeof ChainHeadBodySchema>;
export const ChainHeadSchema = ChainHeadBodySchema.extend({ signature: z.string().min(1) });
export type ChainHead = z.infer<typeof ChainHeadSchema>;

/** How a signed document is stored: its fields, pretty-printed, plus the compact JWS over them. */
export function signedDocument(body: object, signature: string): string {
  return JSON.stringify({ ...body, signature }, null, 2) + '\n';
}

/** ClickHouse's text form of DateTime64(3) (as JSONEachRow writes it), which sorts like the time. */
export const toChText = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 23);
/** "2025-01-31 12:00:00.000" (UTC) → "2025-01-31T12:00:00.000Z". */
export const chTextToIso = (s: string) => `${s.replace(' ', 'T')}Z`;
export const isoToMs = (s: string) => Date.parse(s);
