// The rows of the verification walk: one TabSeparated line per record (event, retention cut or
// checkpoint), in a fixed column layout shared by the walk and the classification of breaks.
import type { PiiPolicy } from './canonical.ts';
import type { CompactDiagnosis } from './classify.ts';
import type { ChainBreak } from './verify.ts';
import type { EventRow } from '../event/model.ts';

// Positions in the walk's rows (TabSeparated: ClickHouse writes it ~2.5x faster than JSON, and
// splitting on tabs is cheaper than JSON.parse).
export const K = 0, TENANT = 1, STREAM = 2, SEQ = 3, PREV = 4, HASH = 5, MAC = 6, ERASURE = 7, ID = 8, TS = 9, RECV = 10,
  ATYPE = 11, SEV = 12, ACTION = 13, OUTCOME = 14, RTYPE = 15, RID = 16, USER = 17, IP = 18, UA = 19, REQ = 20, DESC = 21,
  DETAILS = 22, LAST = 23;
export type Rec = [number, string, string, number, string, string, string, string, string, number, number, string, string, string,
  string, string, string, string, string, string, string, string, string, number];
export const CUT = 0, ROW = 1, CHECKPOINT = 2;
/** Ids as the walk reads them back (toString(UUID): lowercase). */
export { CANONICAL_UUID_RE as UUID_RE } from '../event/patterns.ts';

/** The walk's sort spills to disk past this, so memory stays bounded however large the table is. */
export const SORT_SPILL_BYTES = 128 * 1024 * 1024;

const UNESCAPE: Record<string, string> = { b: '\b', f: '\f', r: '\r', n: '\n', t: '\t', '0': '\0', a: '\x07', v: '\v', e: '\x1b' };
/** One TabSeparated line: fields split on tabs, ClickHouse's backslash escapes undone. */
export function parseRecord(line: string): Rec {
  const f = line.split('\t') as unknown[];
  for (let i = 0; i < f.length; i++) {
    const v = f[i] as string;
    if (v.includes('\\')) f[i] = v.replace(/\\(.)/g, (_, c: string) => UNESCAPE[c] ?? c);
  }
  f[K] = Number(f[K]);
  f[SEQ] = Number(f[SEQ]);
  f[TS] = Number(f[TS]);
  f[RECV] = Number(f[RECV]);
  f[LAST] = Number(f[LAST]);
  return f as Rec;
}

export function toEvent(r: Rec): EventRow {
  return {
    id: r[ID], tenant_id: r[TENANT], timestamp: r[TS], received_at: r[RECV], activity_type: r[ATYPE], severity: r[SEV],
    action: r[ACTION], outcome: r[OUTCOME], resource_type: r[RTYPE], resource_id: r[RID], user_id: r[USER],
    ip_address: r[IP], user_agent: r[UA], request_id: r[REQ], description: r[DESC], details: r[DETAILS],
  };
}

/** A break found during the walk; classified afterwards (classification may query the store). */
export interface Found extends ChainBreak {
  /** The row that failed its own hash or its link, for the reorder check. */
  row?: Rec;
  check?: 'self' | 'link' | 'compact';
  /** Compact chains: what the walk saw after the break (classify() decides moved, edited or forged). */
  diagnosis?: CompactDiagnosis;
}

export interface StreamInfo {
  params?: string;
  policy?: PiiPolicy;
  conflict?: boolean;
  /** Id of the MAC key the stream was written under. */
  keyId?: string;
}
