// The canonical form of a stored event and the MACs over it. Pure functions, shared by the
// writer (which computes them) and the verifier (which recomputes them from stored rows), so the
// two can never disagree. The exact definition is in the README (Integrity and erasure).
//
// Every canonical text is a JSON object with keys in sorted order (RFC 8785 / JCS style) and
// only strings, safe integers and null as values, so JSON.stringify of an object literal written
// in sorted key order *is* its JCS serialization. Times are epoch milliseconds.
import crypto, { type KeyObject } from 'node:crypto';
import type { EventRow } from '../event/model.ts';
import type { MacKeys } from './keys.ts';

/** The first canonical form: full 32-byte links, prev_hash and pii_mac stored in every row. */
export const CANON_VERSION = 1;
/**
 * The compact form (issue 14): each link is the first 8 bytes of its HMAC (16 hex chars, in
 * `hash`); `prev_hash` is not stored (it is the previous row's `hash`, which the verifier walks
 * anyway) and `pii_mac` only on erased rows (computed from the values before the erasure). New
 * streams use it; streams written before keep verifying under version 1.
 */
export const CANON_COMPACT = 2;
/** Hex characters of a compact link (64 bits). */
export const COMPACT_HEX = 16;
/** What erased personal values are replaced with, in columns and in details. */
export const ERASED = '[ERASED]';
/** The activity type of the event each erasure records (erased rows' marks point at one). */
export const ERASURE_ACTIVITY = 'audit.erasure';

// The chain covers every field of a stored event: an EventRow (src/event/model.ts), times in epoch
// ms, details as the stored JSON text.

/** Which values are personal data. Fixed per stream (recorded with it), so old rows stay verifiable after a config change. */
export interface PiiPolicy {
  detailKeys: ReadonlySet<string>;
  resourceTypes: ReadonlySet<string>;
  /** The stream's canonical form (CANON_VERSION or CANON_COMPACT). */
  version: number;
}

/** The parameters recorded per stream and bound into each of its chains' genesis. */
export interface StreamParams {
  v: number;
  key_id: string;
  pii_detail_keys: string[];
  pii_resource_types: string[];
}

/** "E-Mail", "e_mail" and "email" are the same key, as in redaction. */
export const normalizeKey = (k: string) => k.toLowerCase().replace(/[^a-z0-9]/g, '');

export function streamParams(keyId: string, detailKeys: readonly string[], resourceTypes: readonly string[], v = CANON_COMPACT): StreamParams {
  return {
    v,
    key_id: keyId,
    pii_detail_keys: [...new Set(detailKeys.map(normalizeKey).filter(Boolean))].sort(),
    pii_resource_types: [...new Set(resourceTypes)].sort(),
  };
}

/** The canonical text of stream parameters (as stored in integrity_streams.params). */
export function paramsText(p: StreamParams): string {
  return JSON.stringify({ key_id: p.key_id, pii_detail_keys: p.pii_detail_keys, pii_resource_types: p.pii_resource_types, v: p.v });
}

export function policyOf(p: StreamParams): PiiPolicy {
  return { detailKeys: new Set(p.pii_detail_keys), resourceTypes: new Set(p.pii_resource_types), version: p.v };
}

export type PersonalValue = [path: Array<string | number>, value: unknown];

export interface MaskedDetails {
  /** The details text with every personal value replaced by null (the stored text itself when there is none). */
  masked: string;
  /** The personal values in document order, with their paths. */
  personal: PersonalValue[];
}

/**
 * Splits details into what the chain hash covers (masked) and what only the personal MAC covers.
 * Personal keys match at any depth, inside arrays too; a personal key's whole value is personal.
 */
export function maskDetails(text: string, policy: PiiPolicy): MaskedDetails {
  if (policy.detailKeys.size === 0 || text === '{}' || text === '') return { masked: text, personal: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { masked: text, personal: [] }; // not JSON (never written by us): hashed as is
  }
  const personal: PersonalValue[] = [];
  const walk = (v: unknown, at: Array<string | number>): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...at, i]));
    const m: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (policy.detailKeys.has(normalizeKey(k))) {
        personal.push([[...at, k], x]);
        m[k] = null;
      } else {
        m[k] = walk(x, [...at, k]);
      }
    }
    return m;
  };
  const masked = walk(parsed, []);
  if (personal.length === 0) return { masked: text, personal };
  return { masked: JSON.stringify(masked), personal };
}

/**
 * Replaces personal values in details for which `erase(value)` is true by ERASED, keeping key
 * order (so the masked form, and with it the chain hash, is unchanged). Returns undefined when
 * nothing was replaced.
 */
export function eraseDetails(text: string, policy: PiiPolicy, erase: (value: unknown) => boolean): string | undefined {
  if (policy.detailKeys.size === 0 || text === '{}' || text === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  let n = 0;
  const walk = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(walk);
    const m: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (policy.detailKeys.has(normalizeKey(k)) && x !== ERASED && erase(x)) {
        m[k] = ERASED;
        n++;
      } else {
        m[k] = walk(x);
      }
    }
    return m;
  };
  const out = walk(parsed);
  return n > 0 ? JSON.stringify(out) : undefined;
}

const hmac = (key: KeyObject, text: string) => crypto.createHmac('sha256', key).update(text).digest('hex');
/** A chain link of the policy's form: the full HMAC (version 1) or its first 8 bytes (compact). */
const linkOf = (policy: PiiPolicy, key: KeyObject, text: string) => {
  const h = hmac(key, text);
  return policy.version >= CANON_COMPACT ? h.slice(0, COMPACT_HEX) : h;
};

/** The personal values' MAC text (keys sorted). */
function personalText(e: EventRow, personalResource: boolean, personal: PersonalValue[]): string {
  return JSON.stringify({
    details: personal,
    ip_address: e.ip_address,
    resource_id: personalResource ? e.resource_id : null,
    user_agent: e.user_agent,
    user_id: e.user_id,
  });
}

export interface Link {
  stream: string;
  seq: number;
  prev_hash: string;
}

export interface Sealed {
  pii_mac: string;
  hash: string;
}

/**
 * The chain hash and personal MAC of one event at one position. The hash covers every field
 * except the personal ones, which it covers only through pii_mac.
 */
export function sealEvent(keys: MacKeys, policy: PiiPolicy, e: EventRow, chainLink: Link, details?: MaskedDetails): Sealed {
  const d = details ?? maskDetails(e.details, policy);
  const pii_mac = hmac(keys.pii, personalText(e, policy.resourceTypes.has(e.resource_type), d.personal));
  return { pii_mac, hash: linkOf(policy, keys.chain, canonicalEvent(policy, e, chainLink, pii_mac, d.masked)) };
}

/** The chain hash of a stored row, over its stored pii_mac (which personal edits or erasure do not touch). */
export function chainHash(keys: MacKeys, policy: PiiPolicy, e: EventRow, link: Link, pii_mac: string, details: MaskedDetails): string {
  return linkOf(policy, keys.chain, canonicalEvent(policy, e, link, pii_mac, details.masked));
}

/** The canonical text the chain hash is computed over (README: Integrity and erasure). */
export function canonicalEvent(policy: PiiPolicy, e: EventRow, link: Link, pii_mac: string, maskedDetails: string): string {
  const personalResource = policy.resourceTypes.has(e.resource_type);
  return JSON.stringify({
    action: e.action,
    activity_type: e.activity_type,
    description: e.description,
    details: maskedDetails,
    id: e.id.toLowerCase(),
    outcome: e.outcome,
    pii_mac,
    prev_hash: link.prev_hash,
    received_at: e.received_at,
    request_id: e.request_id,
    resource_id: personalResource ? null : e.resource_id,
    resource_type: e.resource_type,
    seq: link.seq,
    severity: e.severity,
    stream: link.stream,
    tenant_id: e.tenant_id,
    timestamp: e.timestamp,
    v: policy.version,
  });
}

/** Only the personal MAC (the verifier checks it apart from the chain hash to name what was edited). */
export function personalMac(keys: MacKeys, policy: PiiPolicy, e: EventRow, details: MaskedDetails): string {
  return hmac(keys.pii, personalText(e, policy.resourceTypes.has(e.resource_type), details.personal));
}

/** The value before seq 1 of the chain (tenant, stream): keyed, so nobody else can start a chain. */
export function genesisHash(keys: MacKeys, tenant: string, stream: string, params: string, version = CANON_VERSION): string {
  const h = hmac(keys.chain, JSON.stringify({ params, stream, tenant_id: tenant, type: 'genesis', v: CANON_VERSION }));
  return version >= CANON_COMPACT ? h.slice(0, COMPACT_HEX) : h;
}

export interface CutRecord {
  tenant_id: string;
  stream: string;
  first_seq: number;
  last_seq: number;
  prev_hash: string;
  last_hash: string;
  run_id: string;
}

export function cutMac(keys: MacKeys, c: CutRecord): string {
  return hmac(keys.cut, JSON.stringify({
    first_seq: c.first_seq, last_hash: c.last_hash, last_seq: c.last_seq, prev_hash: c.prev_hash,
    run_id: c.run_id, stream: c.stream, tenant_id: c.tenant_id, type: 'retention-cut', v: CANON_VERSION,
  }));
}

/**
 * The `erasure` column of an erased row: the erasure event's id and a MAC over the row's personal
 * fields as they are after erasure, so an erased row cannot be edited (or marked) by anyone else.
 */
export function erasureMark(keys: MacKeys, policy: PiiPolicy, e: EventRow, erasureId: string, details?: MaskedDetails): string {
  const d = details ?? maskDetails(e.details, policy);
  const text = JSON.stringify({
    erasure: erasureId,
    id: e.id.toLowerCase(),
    personal: personalText(e, policy.resourceTypes.has(e.resource_type), d.personal),
    tenant_id: e.tenant_id,
  });
  return `${erasureId}:${hmac(keys.erasure, text)}`;
}

/** A stable pseudonym for a data subject in one tenant, for erasure records (reveals nothing without the key). */
export function subjectRef(keys: MacKeys, tenant: string, userId: string): string {
  return hmac(keys.subject, JSON.stringify({ tenant_id: tenant, user_id: userId }));
}
