// Stored events by (tenant, id) for reads by id: the rows the writer stored and the rows read
// from the store (pages, suffix loads, reads by id), least recently used first out, within its
// share of the read cache's budget. Kept exact like the suffixes (src/query/tail.ts): filled only
// with stored rows, emptied when a mutation begins, and a row near its TTL expiry is not answered.
// Holds only hits: an id that is not stored is always looked up in the store.
import type { AuditEvent } from '../event/model.ts';
import { eventFromRow } from '../store/activity-rows.ts';
import type { CachedRow } from './tail-suffix.ts';

const ENTRY_BYTES = 120; // the map entry and its key, besides the row

export class EventsById {
  private readonly map = new Map<string, CachedRow>();
  bytes = 0;

  constructor(
    private readonly budgetBytes: number,
    private readonly expiresAt: ((row: CachedRow['row']) => number) | undefined,
    private readonly marginMs = 3_600_000,
  ) {}

  get size(): number {
    return this.map.size;
  }

  put(c: CachedRow): void {
    if (this.budgetBytes <= 0) return;
    const k = `${c.row.tenant_id}\u0000${c.row.id}`;
    const old = this.map.get(k);
    if (old) {
      this.map.delete(k);
      this.bytes -= old.bytes + ENTRY_BYTES;
    }
    this.map.set(k, c);
    this.bytes += c.bytes + ENTRY_BYTES;
    for (const [key, v] of this.map) {
      if (this.bytes <= this.budgetBytes) break;
      this.map.delete(key);
      this.bytes -= v.bytes + ENTRY_BYTES;
    }
  }

  get(tenant: string, id: string): AuditEvent | undefined {
    const k = `${tenant}\u0000${id}`;
    const c = this.map.get(k);
    if (!c) return undefined;
    if (this.expiresAt && this.expiresAt(c.row) <= Date.now() + this.marginMs) return undefined;
    this.map.delete(k);
    this.map.set(k, c);
    return (c.event ??= eventFromRow(c.row));
  }

  has(tenant: string, id: string): boolean {
    return this.map.has(`${tenant}\u0000${id}`);
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }
}
