// Verification: one streamed, ordered pass over every chain (tenant, stream) in seq order, with
// the retention cuts and the signed checkpoints of each chain merged in at their positions, so
// nothing is held in memory but the current chain's state. For each chain it reports the first
// break: the stream, the sequence number, and what is wrong (edited, deleted, reordered,
// inserted, truncated, or a checkpoint that does not verify).
import type { Store } from '../store/client.ts';
import { TABLE } from '../store/activities.ts';
import { CANON_COMPACT, chainHash, cutMac, erasureMark, genesisHash, maskDetails, personalMac, policyOf, type PiiPolicy, type StreamParams } from './canonical.ts';
import { openCheckpoint } from './checkpoints.ts';
import { classify, CompactDiagnosis } from './classify.ts';
import type { IntegrityKeys } from './keys.ts';
import {
  CHECKPOINT, CUT, DETAILS, ERASURE, HASH, ID, K, LAST, MAC, PREV, RECV, ROW, SEQ, SORT_SPILL_BYTES, STREAM, TENANT, UUID_RE,
  parseRecord, toEvent, type Found, type Rec, type StreamInfo,
} from './records.ts';
import type { ChainBreak, VerifyReport } from './schemas.ts';

// The report's types are inferred from the schemas the endpoint is documented with.
export type { ChainBreak, VerifyReport };

export type BreakKind = ChainBreak['kind'];

export interface VerifyOptions {
  tenant?: string | undefined;
  /** Epoch ms: verify only the part of each chain stored since then (its first link there is trusted). */
  since?: number | undefined;
  maxBreaks?: number;
  signal?: AbortSignal;
}

interface Cut {
  first: number;
  last: number;
  prev: string;
  hash: string;
}

class ChainState {
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

export async function verifyChains(store: Store, keys: IntegrityKeys, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const started = performance.now();
  const maxBreaks = opts.maxBreaks ?? 100;
  const mac = keys.mac;

  const streams = new Map<string, StreamInfo>();
  for (const s of await store.query<{ stream: string; params: string[] }>(
    `SELECT stream, groupUniqArray(params) AS params FROM ${store.table('integrity_streams')} GROUP BY stream`, {}, 'verify',
  )) {
    if (s.params.length !== 1) {
      streams.set(s.stream, { conflict: true });
      continue;
    }
    try {
      const params = JSON.parse(s.params[0]!) as StreamParams;
      streams.set(s.stream, { params: s.params[0]!, policy: policyOf(params), keyId: params.key_id });
    } catch {
      streams.set(s.stream, { conflict: true });
    }
  }
  const meta = await store.query<{ v: string }>(
    `SELECT argMax(value, updated_at) AS v FROM ${store.table('audit_meta')} WHERE key = 'integrity.chained_since' GROUP BY key`, {}, 'verify',
  );
  const chainedSince = meta[0] ? Number(meta[0].v) : 0;

  // The walk's scope: a tenant, and with `since` a window per chain from its first link stored since then.
  const params: Record<string, unknown> = {};
  const conds = { rows: ['1'], cuts: ['1'], cps: ['1'] };
  const anchors = new Map<string, number>();
  if (opts.tenant !== undefined) {
    params.tenant = opts.tenant;
    for (const c of Object.values(conds)) c.push('tenant_id = {tenant:String}');
  }
  if (opts.since !== undefined) {
    params.since = opts.since;
    const windows = new Map<string, number>();
    const tenantCond = opts.tenant !== undefined ? 'AND tenant_id = {tenant:String}' : '';
    const starts = await store.query<{ tenant_id: string; stream: string; from_seq: number }>(
      `SELECT tenant_id, stream, min(s) AS from_seq FROM (
         SELECT tenant_id, toString(stream) AS stream, seq AS s FROM ${store.table(TABLE)}
         WHERE received_at >= fromUnixTimestamp64Milli({since:Int64}) AND stream != '' ${tenantCond}
         UNION ALL
         SELECT tenant_id, toString(stream) AS stream, seq AS s FROM ${store.table('integrity_checkpoints')}
         WHERE created_at >= fromUnixTimestamp64Milli({since:Int64}) ${tenantCond}
       ) GROUP BY tenant_id, stream SETTINGS output_format_json_quote_64bit_integers = 0`,
      params, 'verify',
    );
    for (const s of starts) windows.set(`${s.tenant_id}\u0000${s.stream}`, Number(s.from_seq));
    params.w = Object.fromEntries(windows);
    // A compact link stores no prev_hash: the walk reads the link before the window too (trusted).
    const compact = (stream: string) => (streams.get(stream)?.policy?.version ?? 0) >= CANON_COMPACT;
    for (const s of starts) if (compact(s.stream) && Number(s.from_seq) > 1) anchors.set(`${s.tenant_id}\u0000${s.stream}`, Number(s.from_seq) - 1);
    params.wr = Object.fromEntries([...windows].map(([k, v]) => [k, anchors.get(k) ?? v]));
    const key = `concat(tenant_id, '\\0', toString(stream))`;
    conds.rows.push(`((stream = '' AND received_at >= fromUnixTimestamp64Milli({since:Int64})) OR (mapContains({wr:Map(String, UInt64)}, ${key}) AND seq >= {wr:Map(String, UInt64)}[${key}]))`);
    conds.cuts.push(`mapContains({w:Map(String, UInt64)}, ${key}) AND last_seq >= {w:Map(String, UInt64)}[${key}]`);
    conds.cps.push(`mapContains({w:Map(String, UInt64)}, ${key}) AND seq >= {w:Map(String, UInt64)}[${key}]`);
  }
  const empty12 = Array(12).fill("''").join(', ');
  const sql = `
    SELECT * FROM (
      SELECT toUInt8(${ROW}) AS k, toString(tenant_id) AS t, toString(stream) AS s, seq AS q, prev_hash, hash, pii_mac, erasure,
        toString(id) AS id, toUnixTimestamp64Milli(timestamp) AS ts, toUnixTimestamp64Milli(received_at) AS recv,
        toString(activity_type), toString(severity), toString(action), toString(outcome), toString(resource_type),
        resource_id, user_id, ip_address, toString(user_agent), request_id, description, details, toUInt64(0) AS last
      FROM ${store.table(TABLE)} WHERE ${conds.rows.join(' AND ')}
      UNION ALL
      SELECT toUInt8(${CUT}), toString(tenant_id), toString(stream), first_seq, prev_hash, last_hash, mac, run_id, '',
        toInt64(0), toInt64(0), ${empty12}, last_seq
      FROM ${store.table('integrity_cuts')} WHERE ${conds.cuts.join(' AND ')}
      UNION ALL
      SELECT toUInt8(${CHECKPOINT}), toString(tenant_id), toString(stream), seq, '', hash, '', toString(kind), '',
        toUnixTimestamp64Milli(created_at), toInt64(0), ${Array(11).fill("''").join(', ')}, jws, toUInt64(0)
      FROM ${store.table('integrity_checkpoints')} WHERE ${conds.cps.join(' AND ')}
    ) ORDER BY t, s, q, k
    SETTINGS max_bytes_before_external_sort = ${SORT_SPILL_BYTES}, max_bytes_ratio_before_external_sort = 0, max_block_size = 8192`;

  const report: VerifyReport = {
    ok: true, tenant_id: opts.tenant ?? null, since: opts.since !== undefined ? new Date(opts.since).toISOString() : null,
    rows: 0, chains: 0, checkpoints: 0, cuts: 0, erased_rows: 0, legacy_rows: 0, breaks: [], more_breaks: false,
    duration_ms: 0, rows_per_second: 0,
  };
  const found: Found[] = [];
  /** Erasure event ids referenced by erased rows, per tenant, with the first place they occur. */
  const erasures = new Map<string, { tenant: string; stream: string; seq: number; event_id: string; erasure_id: string }>();
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
    st = new ChainState(r[TENANT], r[STREAM], info, genesis, opts.since !== undefined);
    st.anchor = anchors.get(`${r[TENANT]}\u0000${r[STREAM]}`);
    if (r[STREAM] !== '') report.chains++;
    return st;
  };

  const leave = (s: ChainState) => {
    if (!s.broken && s.pendingCheckpoint !== undefined) {
      fail(s, { seq: s.pendingGap ?? s.lastSeq + 1, kind: 'truncated', detail: `a signed checkpoint covers seq ${s.pendingCheckpoint}, but the chain ends at seq ${s.lastSeq}` });
    }
  };

  /** Bridges missing links [s.lastSeq+1, to-1] with retention cuts; returns the hash expected before `to`, or a break. */
  const bridge = (s: ChainState, to: number): { ok: true; hash: string | undefined } | { ok: false; seq: number; detail: string } => {
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

  let rest = '';
  for await (const chunk of store.stream(sql, params, 'TabSeparated', opts.signal)) {
    const text = rest + chunk;
    const lines = text.split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      const pending = dispatch(parseRecord(line));
      if (pending) await pending;
    }
  }
  if (rest) await dispatch(parseRecord(rest));
  if (held) onRow(held);
  if (st) leave(st);

  // Every erased row must point at a recorded erasure of its tenant.
  if (erasures.size > 0) {
    const ids = [...new Set([...erasures.values()].map((r) => r.erasure_id))].filter((id) => UUID_RE.test(id));
    const known = new Set((await store.query<{ t: string; event_id: string }>(
      `SELECT tenant_id AS t, toString(id) AS event_id FROM ${store.table(TABLE)}
       WHERE activity_type = 'audit.erasure' AND id IN {ids:Array(UUID)}`,
      { ids }, 'verify',
    )).map((r) => `${r.t}\u0000${r.event_id}`));
    for (const [key, ref] of erasures) {
      if (!known.has(key) && !found.some((f) => f.tenant_id === ref.tenant && f.stream === ref.stream)) {
        found.push({ tenant_id: ref.tenant, stream: ref.stream, seq: ref.seq, kind: 'edited', detail: 'marked erased by an erasure that was never recorded', event_id: ref.event_id });
      }
    }
  }

  await classify(store, mac, streams, found.slice(0, 20));
  report.breaks = found.slice(0, maxBreaks).map(({ row: _row, check: _check, diagnosis: _d, ...b }) => b);
  report.more_breaks = found.length > maxBreaks;
  report.ok = found.length === 0;
  report.duration_ms = Math.round(performance.now() - started);
  report.rows_per_second = report.duration_ms > 0 ? Math.round(report.rows / (report.duration_ms / 1000)) : report.rows;
  return report;

}

/**
 * `since` for verification: an ISO-8601 date or date-time (UTC when no zone is given), or a
 * duration back from now: 90m, 24h, 7d. Returns epoch ms, or undefined when it is neither.
 */
export function parseSince(s: string, now = Date.now()): number | undefined {
  const rel = /^(\d{1,6})([mhd])$/.exec(s.trim());
  if (rel) return now - Number(rel[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 'm' | 'h' | 'd'];
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(s)) return undefined;
  const ms = Date.parse(/[T ]/.test(s) && !/(Z|[+-]\d{2}:?\d{2})$/.test(s) ? `${s}Z` : s);
  return Number.isNaN(ms) ? undefined : ms;
}
