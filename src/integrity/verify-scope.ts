// What the verification walk reads: the registered streams and their PII policies, when chains
// began, and the one ordered query over rows, retention cuts and checkpoints, scoped to a tenant
// and, with `since`, to a window per chain.
import type { Store } from '../store/client.ts';
import { linksStoredSinceSelect, walkRowsSelect } from '../store/chain-rows.ts';
import { CANON_COMPACT, policyOf, type StreamParams } from './canonical.ts';
import { CHECKPOINT, CUT, ROW, SORT_SPILL_BYTES, type StreamInfo } from './records.ts';
import type { VerifyOptions } from './verify.ts';

/** Each stream's registration; more than one (or an unreadable one) is a conflict. */
export async function loadStreams(store: Store): Promise<Map<string, StreamInfo>> {
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
  return streams;
}

/** Epoch ms since which every stored event belongs to a chain (0: always). */
export async function loadChainedSince(store: Store): Promise<number> {
  const meta = await store.query<{ v: string }>(
    `SELECT argMax(value, updated_at) AS v FROM ${store.table('audit_meta')} WHERE key = 'integrity.chained_since' GROUP BY key`, {}, 'verify',
  );
  return meta[0] ? Number(meta[0].v) : 0;
}

/**
 * The walk's query, its bound parameters, and for compact chains in a window the link before the
 * window (keyed tenant NUL stream), which the walk reads as a trusted anchor.
 */
export async function walkQuery(
  store: Store, opts: VerifyOptions, streams: Map<string, StreamInfo>,
): Promise<{ sql: string; params: Record<string, unknown>; anchors: Map<string, number> }> {
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
         ${linksStoredSinceSelect(store, tenantCond)}
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
      ${walkRowsSelect(store, ROW, conds.rows.join(' AND '))}
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
  return { sql, params, anchors };
}
