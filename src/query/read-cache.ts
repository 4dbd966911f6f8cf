// The read cache as configured: off at 0 bytes (server mode's default), else a TailCache whose
// rows are never answered near their TTL expiry when the table deletes by TTL (archiving off).
import type { Config } from '../config.ts';
import type { EventRow } from '../event/model.ts';
import type { Store } from '../store/client.ts';
import { TailCache } from './tail.ts';

const DAY_MS = 86_400_000;

/** When the table's TTL (src/retention/policy.ts) may delete a row: toDateTime(timestamp) + days. */
export function ttlExpiry(days: Config['retention']['days']): (row: EventRow) => number {
  return (row) => Math.floor(row.timestamp / 1000) * 1000 + (days[row.severity as keyof typeof days] ?? 0) * DAY_MS;
}

export function readCacheFor(store: Store, config: Config): TailCache | undefined {
  if (config.readCache.bytes <= 0) return undefined;
  return new TailCache(store, {
    budgetBytes: config.readCache.bytes,
    expiresAt: config.retention.archiveEnabled ? undefined : ttlExpiry(config.retention.days),
  });
}
