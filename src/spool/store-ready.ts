// Start-up without a store: in server mode ClickHouse may be down while audithouse starts (a
// deploy during an outage). With a spool, the service still comes up and acknowledges writes
// into it, retrying the migrations in the background; the spool drains once they are applied.
import type { Logger } from '../logger.ts';
import { isRetryable } from '../store/errors.ts';

export interface StoreReadiness {
  /** Undefined when the store was ready at once; otherwise resolves when the migrations succeed. */
  ready: Promise<void> | undefined;
  stop(): void;
}

const MAX_RETRY_MS = 10_000;

export async function migrateWhenReachable(
  migrate: () => Promise<unknown>,
  opts: { log: Logger; deferrable: boolean },
): Promise<StoreReadiness> {
  try {
    await migrate();
    return { ready: undefined, stop() {} };
  } catch (err) {
    if (!opts.deferrable || !isRetryable(err)) throw err;
    opts.log.error({ err }, 'the store does not answer at start: writes are acknowledged into the spool; migrations retry in the background');
  }
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const ready = new Promise<void>((resolve) => {
    const attempt = (delay: number) => {
      timer = setTimeout(async () => {
        if (stopped) return;
        try {
          await migrate();
          opts.log.info('the store answers: migrations applied, replaying the spool');
          resolve();
        } catch (err) {
          if (!isRetryable(err)) opts.log.error({ err }, 'migrations failed; retrying');
          if (!stopped) attempt(Math.min(MAX_RETRY_MS, delay * 2));
        }
      }, delay);
    };
    attempt(250);
  });
  return {
    ready,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
