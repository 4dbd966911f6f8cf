// Engine side of section 1: the baseline. The same events the HTTP run posts, inserted straight
// into the same engine (same schema, same version) with @clickhouse/client, as a program that
// skips the service would do it: JSONCompactEachRow, sequential inserts of `batch` rows.
import { ACTIVITIES_TABLE, rowValues } from '../../src/store/activity-rows.ts';
import { EVENT_COLUMNS, type EventRow } from '../../src/event/model.ts';
import type { EngineOp } from '../lib/engine-worker.ts';
import { generateEvents, type WireEvent } from '../lib/corpus.ts';

/** The stored form of a fully specified wire event (what normalizeEvents makes of it). */
export function toRow(e: WireEvent, receivedAt: number): EventRow {
  return {
    id: e.id,
    tenant_id: e.tenant_id,
    timestamp: Date.parse(e.timestamp),
    received_at: receivedAt,
    activity_type: e.activity_type,
    severity: e.severity,
    action: e.action,
    outcome: e.outcome,
    resource_type: e.resource_type,
    user_agent: e.user_agent,
    user_id: e.user_id,
    resource_id: e.resource_id,
    ip_address: e.ip_address,
    request_id: e.request_id,
    description: e.description,
    details: JSON.stringify(e.details),
  };
}

export const ingestOps: Record<string, EngineOp> = {
  async rawInsert(c, a) {
    const store = await c.store(a.database as string);
    const events = generateEvents(a.count as number, a.seed as number, a.nowMs as number);
    const now = Date.now();
    const values = events.map((e) => rowValues(toRow(e, now)));
    const batch = a.batch as number;
    const t = performance.now();
    for (let i = 0; i < values.length; i += batch) {
      await store.client.insert({
        table: store.table(ACTIVITIES_TABLE),
        columns: [...EVENT_COLUMNS],
        values: values.slice(i, i + batch),
        format: 'JSONCompactEachRow',
      });
    }
    return performance.now() - t;
  },
};
