// Verification: one streamed, ordered pass over every chain (tenant, stream) in seq order, with
// the retention cuts and the signed checkpoints of each chain merged in at their positions, so
// nothing is held in memory but the current chain's state. For each chain it reports the first
// break: the stream, the sequence number, and what is wrong (edited, deleted, reordered,
// inserted, truncated, or a checkpoint that does not verify).
import type { Store } from '../store/client.ts';
import { parseRecord, storedEventsOfType } from '../store/chain-rows.ts';
import { classify } from './classify.ts';
import type { IntegrityKeys } from './keys.ts';
import { ERASURE_ACTIVITY } from './canonical.ts';
import { UUID_RE, type Found } from './records.ts';
import { loadChainedSince, loadStreams, walkQuery } from './verify-scope.ts';
import { createChainWalk, type ErasureRef } from './verify-walk.ts';
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

export async function verifyChains(store: Store, keys: IntegrityKeys, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const started = performance.now();
  const maxBreaks = opts.maxBreaks ?? 100;
  const mac = keys.mac;
  const streams = await loadStreams(store);
  const chainedSince = await loadChainedSince(store);
  const { sql, params, anchors } = await walkQuery(store, opts, streams);

  const report: VerifyReport = {
    ok: true, tenant_id: opts.tenant ?? null, since: opts.since !== undefined ? new Date(opts.since).toISOString() : null,
    rows: 0, chains: 0, checkpoints: 0, cuts: 0, erased_rows: 0, legacy_rows: 0, breaks: [], more_breaks: false,
    duration_ms: 0, rows_per_second: 0,
  };
  const found: Found[] = [];
  /** Erasure event ids referenced by erased rows, per tenant, with the first place they occur. */
  const erasures = new Map<string, ErasureRef>();
  const { dispatch, end } = createChainWalk({ keys, streams, anchors, chainedSince, windowed: opts.since !== undefined, report, found, erasures });

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
  end();

  // Every erased row must point at a recorded erasure of its tenant.
  if (erasures.size > 0) {
    const ids = [...new Set([...erasures.values()].map((r) => r.erasure_id))].filter((id) => UUID_RE.test(id));
    const known = await storedEventsOfType(store, ERASURE_ACTIVITY, ids);
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
