// The records of the verification walk (event, retention cut or checkpoint) and what the walk
// keeps about them: the kinds, the breaks found, each stream's registration.
import type { PiiPolicy } from './canonical.ts';
import type { CompactDiagnosis } from './classify.ts';
import type { ChainBreak } from './verify.ts';
import type { Rec } from '../store/chain-rows.ts';

// The records' column layout and their parse live with the query that produces them (store/chain-rows.ts).
export const CUT = 0, ROW = 1, CHECKPOINT = 2;
/** Ids as the walk reads them back (toString(UUID): lowercase). */
export { CANONICAL_UUID_RE as UUID_RE } from '../event/patterns.ts';

/** The walk's sort spills to disk past this, so memory stays bounded however large the table is. */
export const SORT_SPILL_BYTES = 128 * 1024 * 1024;

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
