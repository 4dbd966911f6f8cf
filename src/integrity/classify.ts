// Telling a reordering from an edit, and a forged row from an edited one, once the walk has found
// where a chain breaks: a few point queries per break, after the walk's stream has ended.
import type { Store } from '../store/client.ts';
import { chainHash, maskDetails, personalMac, type PiiPolicy } from './canonical.ts';
import type { IntegrityKeys } from './keys.ts';
import { ERASURE, HASH, MAC, PREV, SEQ, linkNeighbours, toEvent, type Rec } from '../store/chain-rows.ts';
import type { Found, StreamInfo } from './records.ts';

/**
 * Tells a reordering from an edit: a row that fails its hash or its link but hashes correctly at
 * another position next to the links it points to (or that point to it) was moved, not changed.
 */
export async function classify(store: Store, mac: IntegrityKeys['mac'], streams: Map<string, StreamInfo>, found: Found[]): Promise<void> {
  for (const f of found) {
    if (f.diagnosis) {
      await f.diagnosis.classify(store);
      continue;
    }
    if (!f.row || !f.check) continue;
    const r = f.row;
    const policy = streams.get(f.stream)?.policy;
    if (!policy) continue;
    const where = { t: f.tenant_id, s: f.stream, prev: r[PREV], hash: r[HASH] };
    // Neighbours by hash: the link this row points back to, the link pointing to it, and
    // retention cuts on either side.
    const cuts = await store.query<{ seq: number; rel: 'prev' | 'next' }>(
      `SELECT if(last_hash = {prev:String}, last_seq, first_seq) AS seq, if(last_hash = {prev:String}, 'prev', 'next') AS rel
       FROM ${store.table('integrity_cuts')}
       WHERE tenant_id = {t:String} AND stream = {s:String} AND (last_hash = {prev:String} OR prev_hash = {hash:String})
       LIMIT 10 SETTINGS output_format_json_quote_64bit_integers = 0`,
      where, 'verify',
    );
    const near = [...await linkNeighbours(store, { tenant: f.tenant_id, stream: f.stream, prev: r[PREV], hash: r[HASH] }), ...cuts];
    if (f.check === 'link') {
      if (near.some((n) => n.rel === 'prev' && Number(n.seq) !== r[SEQ] - 1)) {
        f.kind = 'reordered';
        f.detail = 'the event links to another place in the chain: events were reordered';
      }
      continue;
    }
    const candidates = new Set<number>();
    for (const n of near) {
      const q = Number(n.seq);
      if (n.rel === 'prev') candidates.add(q + 1).add(q);
      else candidates.add(q - 1).add(q);
    }
    candidates.delete(r[SEQ]);
    const e = toEvent(r);
    const details = maskDetails(e.details, policy);
    let moved = false;
    for (const seq of candidates) {
      if (seq < 1) continue;
      if (chainHash(mac, policy, e, { stream: f.stream, seq, prev_hash: r[PREV] }, r[MAC], details) === r[HASH]) {
        f.kind = 'reordered';
        f.detail = `the event at seq ${r[SEQ]} belongs at seq ${seq}: events were reordered`;
        moved = true;
        break;
      }
    }
    if (moved || near.length > 0) continue;
    // Linked to nothing, followed by nothing, in a chain no checkpoint ever signed: not an
    // edited event but one that was never written by a writer.
    const signed = await store.query<{ n: number }>(
      `SELECT count() AS n FROM ${store.table('integrity_checkpoints')} WHERE tenant_id = {t:String} AND stream = {s:String}
       SETTINGS output_format_json_quote_64bit_integers = 0`, where, 'verify',
    );
    if (Number(signed[0]?.n ?? 0) === 0) {
      f.kind = 'inserted';
      f.detail = 'an event no writer chained: it links to nothing and no checkpoint signed its chain';
    }
  }
}

/** Rows looked at after a compact chain's first break, at most (bounds the cost of a broken chain). */
const MAX_OBSERVED = 100_000;
/** Failing rows kept as candidate places of a moved event. */
const MAX_FAILURES = 32;

interface CompactContext {
  mac: IntegrityKeys['mac'];
  policy: PiiPolicy;
  /** The personal MAC of the first failing row. */
  pii: string;
  /** The hash its place expected before it. */
  prev: string;
  /** Links of the chain that verified before the break. */
  verifiedBefore: number;
  /** The first failing row's own stored hash (the walk resynchronizes on it). */
  lastHash: string;
}

/**
 * After a compact chain's first break (a row whose hash does not verify where it stands), the
 * walk goes on resynchronizing on each stored hash, to collect the other rows that fail. The
 * first one was moved, not edited, if its hash verifies at one of their places (a compact row
 * stores no prev_hash to point at its old neighbour, so the places are tried); it was never
 * written by a writer if nothing in its chain links, before or after, and no checkpoint signed it.
 */
export class CompactDiagnosis {
  private failures: Array<{ seq: number; hash: string; prevHash: string }> = [];
  private seen = 0;
  private linkedAfter = false;
  private lastHash: string;
  /** Hashes of the last links retention cuts took, by seq: what the link after a cut extends. */
  private cutHashes = new Map<number, string>();

  constructor(readonly found: Found, private readonly ctx: CompactContext) {
    this.lastHash = ctx.lastHash;
    found.diagnosis = this;
  }

  cutEnds(lastSeq: number, hash: string): void {
    this.cutHashes.set(lastSeq, hash);
  }

  observe(r: Rec): void {
    if (++this.seen > MAX_OBSERVED) return;
    const { mac, policy } = this.ctx;
    const e = toEvent(r);
    const details = maskDetails(e.details, policy);
    const pii = r[ERASURE] !== '' ? r[MAC] : personalMac(mac, policy, e, details);
    const prev = this.cutHashes.get(r[SEQ] - 1) ?? this.lastHash;
    const ok = chainHash(mac, policy, e, { stream: this.found.stream, seq: r[SEQ], prev_hash: prev }, pii, details) === r[HASH];
    if (ok) this.linkedAfter = true;
    else if (this.failures.length < MAX_FAILURES) this.failures.push({ seq: r[SEQ], hash: r[HASH], prevHash: prev });
    this.lastHash = r[HASH];
  }

  async classify(store: Store): Promise<void> {
    const f = this.found;
    const r = f.row!;
    const { mac, policy, pii } = this.ctx;
    const e = toEvent(r);
    const details = maskDetails(e.details, policy);
    const hashes = new Set([this.ctx.prev, r[HASH], ...this.failures.map((x) => x.hash)]);
    for (const place of this.failures) {
      for (const prev of new Set([place.prevHash, ...hashes])) {
        if (chainHash(mac, policy, e, { stream: f.stream, seq: place.seq, prev_hash: prev }, pii, details) === r[HASH]) {
          f.kind = 'reordered';
          f.detail = `the event at seq ${r[SEQ]} belongs at seq ${place.seq}: events were reordered`;
          return;
        }
      }
    }
    if (this.ctx.verifiedBefore > 0 || this.linkedAfter) return;
    const signed = await store.query<{ n: number }>(
      `SELECT count() AS n FROM ${store.table('integrity_checkpoints')} WHERE tenant_id = {t:String} AND stream = {s:String}
       SETTINGS output_format_json_quote_64bit_integers = 0`, { t: f.tenant_id, s: f.stream }, 'verify',
    );
    if (Number(signed[0]?.n ?? 0) === 0) {
      f.kind = 'inserted';
      f.detail = 'an event no writer chained: nothing in its chain links to it and no checkpoint signed the chain';
    }
  }
}
