// The fault hooks the write path calls, for the durability tests: the writer before and after
// each store write, the spool before each append. Passed in code through startServices (never
// configured from the environment), so a production process cannot switch them on; the
// implementation that fails, slows or holds writes lives with the tests (test/support/faults.ts).
import type { EventRow } from '../event/model.ts';

export interface WriteFaults {
  /** Before every store write (dedupe + insert); a throw fails the write like the store would. */
  beforeStoreWrite(rows: readonly EventRow[]): Promise<void>;
  /** After an insert returned, before the writer learns of it (rows visible but still pending). */
  afterStoreWrite(rows: readonly EventRow[]): Promise<void>;
  /** Before every spool append; a throw fails the append like a broken disk would. */
  beforeSpoolAppend(): Promise<void>;
}
