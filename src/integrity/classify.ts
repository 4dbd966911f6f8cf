// Telling a reordering from an edit, and a forged row from an edited one, once the walk has found
// where a chain breaks: a few point queries per break, after the walk's stream has ended.
import type { Store } from '../store/client.ts';
import { TABLE } from '../store/activities.ts';
import { chainHash, maskDetails } from './canonical.ts';
import type { IntegrityKeys } from './keys.ts';
import { HASH, MAC, PREV, SEQ, toEvent, type Found, type StreamInfo } from './records.ts';

/**
 * Tells a reordering from an edit: a row that fails its hash or its link but hashes correctly at
 * another position next to the links it points to (or that point to it) was moved, not changed.
 */
export async function classify(store: Store, mac: IntegrityKeys['mac'], streams: Map<string, StreamInfo>, found: Found[]): Promise<void> {
  for (const f of found) {
    if (!f.row || !f.check) continue;
    const r = f.row;
    const policy = streams.get(f.stream)?.policy;
    if (!policy) continue;
    const where = { t: f.tenant_id, s: f.stream, prev: r[PREV], hash: r[HASH] };
    // Neighbours by hash: the link this row points back to, the link pointing to it, and
    // retention cuts on either side.
    const near = await store.query<{ seq: number; rel: string }>(
      `SELECT seq, if(hash = {prev:String}, 'prev', 'next') AS rel FROM ${store.table(TABLE)}
       WHERE tenant_id = {t:String} AND stream = {s:String} AND (hash = {prev:String} OR prev_hash = {hash:String})
       UNION ALL
       SELECT if(last_hash = {prev:String}, last_seq, first_seq), if(last_hash = {prev:String}, 'prev', 'next')
       FROM ${store.table('integrity_cuts')}
       WHERE tenant_id = {t:String} AND stream = {s:String} AND (last_hash = {prev:String} OR prev_hash = {hash:String})
       LIMIT 10 SETTINGS output_format_json_quote_64bit_integers = 0`,
      where, 'verify',
    );
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
