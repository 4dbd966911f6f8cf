// The verification walk itself: each record of the ordered stream (event, retention cut or
// checkpoint) checked against the state of its chain, breaks collected as they are found. Only
// the current chain's state is held. Events of compact chains (CANON_COMPACT) are checked by
// onCompactRow; older chains store prev_hash and a personal MAC per row.
import { CANON_COMPACT, chainHash, cutMac, erasureMark, genesisHash, maskDetails, personalMac, type PiiPolicy } from './canonical.ts';
import { openCheckpoint } from './checkpoints.ts';
import { CompactDiagnosis } from './classify.ts';
import type { IntegrityKeys } from './keys.ts';
import { DETAILS, ERASURE, HASH, ID, K, LAST, MAC, PREV, RECV, SEQ, STREAM, TENANT, toEvent, type Rec } from '../store/chain-rows.ts';
import { CHECKPOINT, CUT, ROW, type Found, type StreamInfo } from './records.ts';
import { bridge, ChainState } from './verify-state.ts';
import type { VerifyReport } from './verify.ts';

/** An erased row's erasure event, with the first place it is referenced. */
export interface ErasureRef { tenant: string; stream: string; seq: number; event_id: string; erasure_id: string }

export interface WalkContext {
  keys: IntegrityKeys;
  streams: Map<string, StreamInfo>;
  /** Compact chains in a window: the seq of the trusted link before it, keyed tenant NUL stream. */
  anchors: Map<string, number>;
  /** Epoch ms since which every event belongs to a chain. */
  chainedSince: number;
  /** Verifying since a time: each chain's first link in the window is trusted. */
  windowed: boolean;
  /** Counted into as the walk goes. */
  report: VerifyReport;
  found: Found[];
  /** Erasure event ids referenced by erased rows, per tenant, with the first place they occur. */
  erasures: Map<string, ErasureRef>;
}

export interface ChainWalk {
  /** Checks one record, in the walk's order. */
  dispatch(r: Rec): Promise<void> | undefined;
  /** After the last record: the held row, and the last chain's end. */
  end(): void;
}

export function createChainWalk(ctx: WalkContext): ChainWalk {
  const { keys, streams, anchors, chainedSince, report, found, erasures } = ctx;
  const mac = keys.mac;
  let st: ChainState | undefined;
  let held: Rec | undefined;

  const fail = (s: ChainState, b: Omit<Found, 'tenant_id' | 'stream'>) => {
    s.broken = true;
    found.push({ tenant_id: s.tenant, stream: s.stream, ...b });
  };

  const enter = (r: Rec) => {
    if (st && st.tenant === r[TENANT] && st.stream === r[STREAM]) return st;
    if (st) leave(st);
    const info = streams.get(r[STREAM]);
    const genesis = info?.params !== undefined ? genesisHash(mac, r[TENANT], r[STREAM], info.params, info.policy?.version) : undefined;
    st = new ChainState(r[TENANT], r[STREAM], info, genesis, ctx.windowed);
    st.anchor = anchors.get(`${r[TENANT]}\u0000${r[STREAM]}`);
    if (r[STREAM] !== '') report.chains++;
    return st;
  };

  const leave = (s: ChainState) => {
    if (!s.broken && s.pendingCheckpoint !== undefined) {
      fail(s, { seq: s.pendingGap ?? s.lastSeq + 1, kind: 'truncated', detail: `a signed checkpoint covers seq ${s.pendingCheckpoint}, but the chain ends at seq ${s.lastSeq}` });
    }
  };

  const onRow = (r: Rec) => {
    const s = enter(r);
    const seq = r[SEQ];
    if (s.anchor !== undefined && !s.started && seq <= s.anchor) {
      // The link before a compact chain's window: its hash is what the window's first link extends.
      s.lastSeq = seq;
      s.lastHash = r[HASH];
      s.started = true;
      return;
    }
    report.rows++;
    if (s.broken) {
      s.diagnosis?.observe(r);
      return;
    }
    if (r[STREAM] === '') {
      if (r[RECV] < chainedSince) report.legacy_rows++;
      else fail(s, { seq: 0, kind: 'inserted', detail: 'an event outside any hash chain, stored after chains began', event_id: r[ID] });
      return;
    }
    if (!s.info?.policy) {
      fail(s, { seq, kind: 'inserted', detail: s.info?.conflict ? 'the stream has conflicting registrations' : 'the stream was never registered by a writer', event_id: r[ID] });
      return;
    }
    if (s.info.keyId !== mac.id) {
      // Not tampering: verification runs with another key than the writer had; say so plainly.
      fail(s, { seq, kind: 'edited', detail: `written under integrity key ${s.info.keyId}, but verifying with key ${mac.id}: use that key (AUDIT_INTEGRITY_KEY)`, event_id: r[ID] });
      return;
    }
    if (s.sealedAt !== undefined && seq > s.sealedAt) {
      fail(s, { seq, kind: 'inserted', detail: `the stream was sealed at seq ${s.sealedAt}; nothing may follow`, event_id: r[ID] });
      return;
    }
    const policy = s.info.policy;
    if (policy.version >= CANON_COMPACT) {
      onCompactRow(s, r, policy);
      return;
    }
    const e = toEvent(r);
    const details = maskDetails(e.details, policy);
    if (chainHash(mac, policy, e, { stream: s.stream, seq, prev_hash: r[PREV] }, r[MAC], details) !== r[HASH]) {
      fail(s, { seq, kind: 'edited', detail: 'the event does not match its hash', event_id: r[ID], row: r, check: 'self' });
      return;
    }
    if (r[ERASURE] === '') {
      if (r[MAC] !== personalMac(mac, policy, e, details)) {
        fail(s, { seq, kind: 'edited', detail: 'personal fields (user, IP, user agent, personal details) do not match their MAC', event_id: r[ID] });
        return;
      }
    } else {
      report.erased_rows++;
      const erasureId = r[ERASURE].split(':')[0]!;
      if (r[ERASURE] !== erasureMark(mac, policy, e, erasureId, details)) {
        fail(s, { seq, kind: 'edited', detail: 'an erased event was changed after its erasure (or marked erased by someone else)', event_id: r[ID] });
        return;
      }
      const key = `${s.tenant}\u0000${erasureId}`;
      if (!erasures.has(key)) erasures.set(key, { tenant: s.tenant, stream: s.stream, seq, event_id: r[ID], erasure_id: erasureId });
    }
    let expected: string | undefined;
    if (!s.started && s.windowed) {
      expected = r[PREV]; // the window's first link is trusted
    } else if (seq === s.lastSeq + 1) {
      expected = s.lastHash;
      // Cuts whose rows are still here (a deletion that did not happen) are passed, not kept.
      if (s.cuts.length > 0 && s.cuts[0]!.last < seq) s.cuts = s.cuts.filter((c) => c.last >= seq);
    } else {
      const b = bridge(s, seq);
      if (!b.ok) {
        fail(s, { seq: b.seq, kind: 'deleted', detail: b.detail });
        return;
      }
      expected = b.hash;
      s.cuts = s.cuts.filter((c) => c.last >= seq);
    }
    if (expected !== undefined && r[PREV] !== expected) {
      fail(s, { seq, kind: 'edited', detail: seq === 1 ? 'the first link does not start from the chain\'s genesis' : 'the event does not link to the one before it', event_id: r[ID], row: r, check: 'link' });
      return;
    }
    s.started = true;
    s.lastSeq = seq;
    s.lastHash = r[HASH];
    s.pendingCheckpoint = undefined;
    s.pendingGap = undefined;
  };

  /** The expected hash before `seq` (undefined: not known, the link is trusted), or a break already reported. */
  const expectedBefore = (s: ChainState, seq: number): { ok: true; hash: string | undefined } | { ok: false } => {
    if (!s.started && s.windowed) return { ok: true, hash: undefined }; // a window whose link before it is gone
    if (seq === s.lastSeq + 1) {
      // Cuts whose rows are still here (a deletion that did not happen) are passed, not kept.
      if (s.cuts.length > 0 && s.cuts[0]!.last < seq) s.cuts = s.cuts.filter((c) => c.last >= seq);
      return { ok: true, hash: s.lastHash };
    }
    const b = bridge(s, seq);
    if (!b.ok) {
      fail(s, { seq: b.seq, kind: 'deleted', detail: b.detail });
      return { ok: false };
    }
    s.cuts = s.cuts.filter((c) => c.last >= seq);
    return { ok: true, hash: b.hash };
  };

  /**
   * A compact link (CANON_COMPACT): one check of the row's 64-bit hash over its fields, the
   * personal MAC (recomputed; stored only since an erasure) and the previous link's hash.
   */
  const onCompactRow = (s: ChainState, r: Rec, policy: PiiPolicy) => {
    const seq = r[SEQ];
    const e = toEvent(r);
    const details = maskDetails(e.details, policy);
    const erased = r[ERASURE] !== '';
    if (r[PREV] !== '' || (!erased && r[MAC] !== '')) {
      fail(s, { seq, kind: 'edited', detail: 'the event carries chain values its writer never stores', event_id: r[ID] });
      return;
    }
    let pii: string;
    if (erased) {
      report.erased_rows++;
      const erasureId = r[ERASURE].split(':')[0]!;
      if (!/^[0-9a-f]{64}$/.test(r[MAC]) || r[ERASURE] !== erasureMark(mac, policy, e, erasureId, details)) {
        fail(s, { seq, kind: 'edited', detail: 'an erased event was changed after its erasure (or marked erased by someone else)', event_id: r[ID] });
        return;
      }
      pii = r[MAC];
      const key = `${s.tenant}\u0000${erasureId}`;
      if (!erasures.has(key)) erasures.set(key, { tenant: s.tenant, stream: s.stream, seq, event_id: r[ID], erasure_id: erasureId });
    } else {
      pii = personalMac(mac, policy, e, details);
    }
    const expected = expectedBefore(s, seq);
    if (!expected.ok) return;
    if (expected.hash !== undefined && chainHash(mac, policy, e, { stream: s.stream, seq, prev_hash: expected.hash }, pii, details) !== r[HASH]) {
      const f: Found = {
        tenant_id: s.tenant, stream: s.stream, seq, kind: 'edited', event_id: r[ID], row: r, check: 'compact',
        detail: seq === 1 ? 'the first event does not match its hash from the chain\'s genesis (an edited field, personal fields included)'
          : 'the event does not match its hash (an edited field, personal fields included) or does not follow the event before it',
      };
      s.broken = true;
      found.push(f);
      s.diagnosis = new CompactDiagnosis(f, { mac, policy, pii, prev: expected.hash, verifiedBefore: s.verified, lastHash: r[HASH] });
      for (const c of s.cuts) s.diagnosis.cutEnds(c.last, c.hash);
      return;
    }
    s.started = true;
    s.verified++;
    s.lastSeq = seq;
    s.lastHash = r[HASH];
    s.pendingCheckpoint = undefined;
    s.pendingGap = undefined;
  };

  const onCut = (r: Rec) => {
    const s = enter(r);
    report.cuts++;
    const cut = { tenant_id: s.tenant, stream: s.stream, first_seq: r[SEQ], last_seq: r[LAST], prev_hash: r[PREV], last_hash: r[HASH], run_id: r[ERASURE] };
    if (s.broken) {
      if (r[MAC] === cutMac(mac, cut)) s.diagnosis?.cutEnds(cut.last_seq, cut.last_hash);
      return;
    }
    if (r[MAC] !== cutMac(mac, cut) || cut.last_seq < cut.first_seq) {
      fail(s, { seq: cut.first_seq, kind: 'deleted', detail: 'a retention cut record that the retention job did not write' });
      return;
    }
    s.cuts.push({ first: cut.first_seq, last: cut.last_seq, prev: cut.prev_hash, hash: cut.last_hash });
  };

  const onCheckpoint = async (r: Rec) => {
    const s = enter(r);
    report.checkpoints++;
    if (s.broken) return;
    const seq = r[SEQ];
    const opened = await openCheckpoint(r[DETAILS], keys.trusted);
    if (!opened.ok) {
      fail(s, { seq, kind: 'bad-checkpoint', detail: `checkpoint at seq ${seq}: ${opened.reason}` });
      return;
    }
    const p = opened.payload;
    if (p.tenant_id !== s.tenant || p.stream !== s.stream || p.seq !== seq || p.hash !== r[HASH] || p.kind !== r[ERASURE]) {
      fail(s, { seq, kind: 'bad-checkpoint', detail: `checkpoint at seq ${seq}: its columns differ from what was signed` });
      return;
    }
    if (p.kind === 'final') s.sealedAt = Math.min(s.sealedAt ?? Infinity, seq);
    if (s.windowed && !s.started) return; // the window opens on a checkpoint whose row is gone: the next row decides
    if (s.lastSeq > seq) return; // before the window
    // Everything from the last link up to the checkpoint must be there (or cut by retention) and match it.
    const b = bridge(s, seq + 1);
    if (b.ok) {
      if (b.hash !== undefined && b.hash !== p.hash) {
        fail(s, { seq, kind: 'edited', detail: `the chain up to seq ${seq} differs from its signed checkpoint (history rewritten)` });
      }
      return;
    }
    // Missing links before a signed head: deleted if more links follow, else the tail was cut off.
    s.pendingCheckpoint = Math.max(s.pendingCheckpoint ?? 0, seq);
    s.pendingGap ??= b.seq;
  };

  /** Synchronous except for checkpoints (signature checks), so the common path costs no promise per row. */
  const dispatch = (r: Rec): Promise<void> | undefined => {
    if (r[K] === ROW) {
      // Rows are held one step so that two rows claiming the same place are seen together.
      if (held && held[TENANT] === r[TENANT] && held[STREAM] === r[STREAM] && held[SEQ] === r[SEQ] && r[STREAM] !== '') {
        const s = enter(held);
        report.rows++;
        if (!s.broken) fail(s, { seq: r[SEQ], kind: 'inserted', detail: `two events claim seq ${r[SEQ]}`, event_id: r[ID] });
        return;
      }
      if (held) onRow(held);
      held = r;
      return;
    }
    if (held) {
      onRow(held);
      held = undefined;
    }
    if (r[K] === CUT) {
      onCut(r);
      return undefined;
    }
    return onCheckpoint(r);
  };

  return {
    dispatch,
    end: () => {
      if (held) onRow(held);
      if (st) leave(st);
    },
  };
}
