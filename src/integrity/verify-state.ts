// The state of one chain during the verification walk (src/integrity/verify-walk.ts): where the
// last verified link is, the retention cuts seen so far, and what a checkpoint still expects.
// bridge() crosses missing links with those cuts.
import type { CompactDiagnosis } from './classify.ts';
import type { StreamInfo } from './records.ts';

export interface Cut {
  first: number;
  last: number;
  prev: string;
  hash: string;
}

export class ChainState {
  lastSeq = 0;
  /** Hash of the link at lastSeq; undefined inside a retention cut whose edge is unknown. */
  lastHash: string | undefined;
  started = false;
  broken = false;
  cuts: Cut[] = [];
  /** A checkpoint pointing past the last row seen: truncated, unless more rows follow. */
  pendingCheckpoint: number | undefined;
  /** Where the links missing before that checkpoint begin. */
  pendingGap: number | undefined;
  sealedAt: number | undefined;
  /** Compact chains: links that verified (none at all, unsigned: a chain no writer made). */
  verified = 0;
  /** Compact chains, after their first break: the rows that follow, to tell a move from an edit. */
  diagnosis: CompactDiagnosis | undefined;
  /** Compact chains in a window: the link before the window (trusted, not counted). */
  anchor: number | undefined;
  constructor(readonly tenant: string, readonly stream: string, readonly info: StreamInfo | undefined, readonly genesis: string | undefined, readonly windowed: boolean) {
    this.lastHash = genesis;
  }
}

/** Bridges missing links [s.lastSeq+1, to-1] with retention cuts; returns the hash expected before `to`, or a break. */
export function bridge(s: ChainState, to: number): { ok: true; hash: string | undefined } | { ok: false; seq: number; detail: string } {
  let pos = s.lastSeq + 1;
  let hash = s.lastHash;
  while (pos < to) {
    const cut = s.cuts.find((c) => c.first <= pos && c.last >= pos);
    if (!cut) return { ok: false, seq: pos, detail: `seq ${pos} is missing and no retention cut covers it` };
    // (Cuts of compact chains carry no prev_hash: each link's own hash covers the one before it.)
    if (cut.first === pos && hash !== undefined && cut.prev !== '' && cut.prev !== hash) {
      return { ok: false, seq: pos, detail: `the retention cut from seq ${pos} does not link to the link before it` };
    }
    if (cut.last < to) {
      pos = cut.last + 1;
      hash = cut.hash;
    } else {
      pos = to;
      hash = undefined; // partially deleted cut: the edge before `to` is not known
    }
  }
  return { ok: true, hash };
}
