// Test-only fault injection for the durability tests: make the store fail or slow down, make
// the spool's disk fail, then heal. Passed in code through startServices (never configured from
// the environment), so a production process cannot switch it on; src/ keeps only the hook
// interface the writer and the spool call (src/spool/faults.ts).
import type { EventRow } from '../../src/event/model.ts';
import type { WriteFaults } from '../../src/spool/faults.ts';
import { InsertError } from '../../src/store/errors.ts';

export class FaultInjector implements WriteFaults {
  private storeError: Error | undefined;
  private diskError: Error | undefined;
  /** Added before every store write (dedupe + insert), to simulate a slow store. */
  storeLatencyMs = 0;
  /** Added before every spool append, to simulate a slow disk (slow fsync). */
  diskLatencyMs = 0;
  /** Store writes attempted (each one call of the writer's single insert path). */
  storeAttempts = 0;
  /** When set, collects the ids of every attempted store write, in order (for ordering tests). */
  writtenIds: string[] | undefined;

  /** Every store write fails with a retryable error (like an unreachable server) until heal(). */
  failStore(err: Error = new InsertError('injected fault: store unavailable', true, undefined)): this {
    this.storeError = err;
    return this;
  }

  /** Every spool append fails like a broken disk until heal(). */
  failDisk(err: Error = Object.assign(new Error('injected fault: EIO: i/o error, write'), { code: 'EIO' })): this {
    this.diskError = err;
    return this;
  }

  heal(): this {
    this.storeError = undefined;
    this.diskError = undefined;
    this.storeLatencyMs = 0;
    this.diskLatencyMs = 0;
    return this;
  }

  async beforeStoreWrite(rows: readonly EventRow[]): Promise<void> {
    this.storeAttempts++;
    if (this.writtenIds) for (const r of rows) this.writtenIds.push(r.id);
    if (this.storeLatencyMs > 0) await new Promise((r) => setTimeout(r, this.storeLatencyMs));
    if (this.storeError) throw this.storeError;
  }

  /**
   * Held after an insert returned and before the writer learns of it, while set: the stored rows
   * are visible to reads but still pending (like an insert whose views are still being filled).
   */
  holdAfterStore: Promise<void> | undefined;

  async afterStoreWrite(_rows: readonly EventRow[]): Promise<void> {
    if (this.holdAfterStore) await this.holdAfterStore;
  }

  async beforeSpoolAppend(): Promise<void> {
    if (this.diskLatencyMs > 0) await new Promise((r) => setTimeout(r, this.diskLatencyMs));
    if (this.diskError) throw this.diskError;
  }
}
