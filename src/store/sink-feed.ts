// The sinks' SQL (src/sinks/ delivers; this file reads and records): the change feed
// (audit_stream_heads), the checkpoints (audit_sink_checkpoints) and the read of stored events
// past a checkpoint. Every value is bound.
//
// Cursor: per (tenant, stream), the last seq delivered and its received_at. Within a stream,
// events are stored in seq order and received_at does not decrease, so "seq > cursor" is the
// exact rest of the stream and "received_at >= the cursor's" a lower bound for it (less a minute
// of slack, so a writer that stamps received_at a little out of order costs a longer read, never
// an event). A stream the sink has not seen starts at its min_received_at from the heads. The
// read asks for every pending stream at once, with the lowest of those bounds as a range the
// received_at skip index can use, ordered by (tenant, stream, seq): whatever LIMIT cuts, each
// stream's part is a prefix of its rest, so the cursor can move to the last seq read.
//
// Few rows come back here (a head per stream, a position per checkpoint), so those are parsed
// by zod schemas; the events themselves go through the fast event parse (./activity-rows.ts).
import { z } from 'zod';
import { toChTime, type AuditEvent } from '../event/model.ts';
import { ACTIVITIES_TABLE as EVENTS, eventFromRecord, SELECT_EVENT, type EventRecord } from './activity-rows.ts';
import type { Store } from './client.ts';

export const HEADS = 'audit_stream_heads';
export const CHECKPOINTS = 'audit_sink_checkpoints';

export interface StreamPosition {
  seq: number;
  /** Epoch ms. */
  receivedAt: number;
}

export interface StreamHead {
  tenant: string;
  stream: string;
  maxSeq: number;
  minReceivedAt: number;
  maxReceivedAt: number;
  lastStoredAt: number;
}

export interface FeedEvent {
  event: AuditEvent;
  stream: string;
  seq: number;
  receivedAt: number;
}

/** Map key of a (tenant, stream); NUL cannot occur in either. */
export const streamKey = (tenant: string, stream: string) => `${tenant}\u0000${stream}`;

/** How far received_at may run backwards along a stream's seq without an event being missed. */
export const RECEIVED_AT_SLACK_MS = 60_000;

// UInt64 and Int64 columns come back quoted in JSON: coerced here, once.
const count = z.coerce.number();
const HeadRecord = z.object({ tenant_id: z.string(), stream: z.string(), top_seq: count, min_r: count, max_r: count, stored: count })
  .transform((r): StreamHead => ({ tenant: r.tenant_id, stream: r.stream, maxSeq: r.top_seq, minReceivedAt: r.min_r, maxReceivedAt: r.max_r, lastStoredAt: r.stored }));
const CheckpointRecord = z.object({ tenant_id: z.string(), stream: z.string(), last_seq: count, r: count });
/** Many rows per read: parsed by hand like every event (no schema walk per row). */
const feedEventFromRecord = (r: EventRecord & { stream: string; seq: string | number }): FeedEvent =>
  ({ event: eventFromRecord(r), stream: r.stream, seq: Number(r.seq), receivedAt: Number(r.received_ms) });

export async function streamHeads(store: Store, tenants?: readonly string[]): Promise<StreamHead[]> {
  const rows = await store.query(
    `SELECT tenant_id, stream, max(max_seq) AS top_seq, toUnixTimestamp64Milli(min(min_received_at)) AS min_r,
            toUnixTimestamp64Milli(max(max_received_at)) AS max_r, toUnixTimestamp64Milli(max(last_stored_at)) AS stored
     FROM ${store.table(HEADS)}
     ${tenants ? 'WHERE tenant_id IN {tenants:Array(String)}' : ''}
     GROUP BY tenant_id, stream`,
    tenants ? { tenants } : {},
    'sink_heads',
  );
  return rows.map((r) => HeadRecord.parse(r));
}

export interface PendingStream {
  tenant: string;
  stream: string;
  after: StreamPosition;
}

/** Stored events past each stream's position, in (tenant, stream, seq) order, at most `limit`. */
export async function eventsAfter(store: Store, pending: readonly PendingStream[], limit: number): Promise<FeedEvent[]> {
  if (pending.length === 0) return [];
  const bound = (p: PendingStream) => (p.after.seq > 0 ? p.after.receivedAt - RECEIVED_AT_SLACK_MS : p.after.receivedAt);
  const from = Math.min(...pending.map(bound));
  const rows = await store.query<EventRecord & { stream: string; seq: string }>(
    `SELECT ${SELECT_EVENT}, stream, seq
     FROM ${store.table(EVENTS)}
     WHERE tenant_id IN {tenants:Array(String)}
       AND received_at >= {from:DateTime64(3)}
       AND (indexOf({keys:Array(String)}, concat(tenant_id, char(0), stream)) AS k) > 0
       AND seq > arrayElement({seqs:Array(UInt64)}, k)
       AND received_at >= arrayElement({bounds:Array(DateTime64(3))}, k)
     ORDER BY tenant_id, stream, seq
     LIMIT {limit:UInt32}`,
    {
      tenants: [...new Set(pending.map((p) => p.tenant))],
      from: toChTime(from),
      keys: pending.map((p) => streamKey(p.tenant, p.stream)),
      seqs: pending.map((p) => p.after.seq),
      bounds: pending.map((p) => toChTime(bound(p))),
      limit,
    },
    'sink_read',
  );
  return rows.map(feedEventFromRecord);
}

/** A sink's positions; `created` is false for a sink never started before. */
export async function loadCheckpoint(store: Store, sink: string): Promise<{ created: boolean; positions: Map<string, StreamPosition> }> {
  const rows = await store.query(
    `SELECT tenant_id, stream, max(seq) AS last_seq, toUnixTimestamp64Milli(argMax(received_at, seq)) AS r
     FROM ${store.table(CHECKPOINTS)} WHERE sink = {sink:String} GROUP BY tenant_id, stream`,
    { sink },
    'sink_checkpoint',
  );
  const positions = new Map<string, StreamPosition>();
  let created = false;
  for (const r of rows.map((x) => CheckpointRecord.parse(x))) {
    if (r.tenant_id === '' && r.stream === '') created = true;
    else positions.set(streamKey(r.tenant_id, r.stream), { seq: r.last_seq, receivedAt: r.r });
  }
  return { created, positions };
}

export async function saveCheckpoint(store: Store, sink: string, positions: ReadonlyMap<string, StreamPosition>, opts: { marker?: boolean } = {}): Promise<void> {
  const rows: unknown[][] = [];
  if (opts.marker) rows.push([sink, '', '', 0, toChTime(Date.now())]);
  for (const [key, p] of positions) {
    const [tenant, stream] = key.split('\u0000') as [string, string];
    rows.push([sink, tenant, stream, p.seq, toChTime(p.receivedAt)]);
  }
  await store.insertCompact(CHECKPOINTS, ['sink', 'tenant_id', 'stream', 'seq', 'received_at'], rows, 'sink_checkpoint');
}
