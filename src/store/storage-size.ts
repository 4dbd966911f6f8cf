// audit_storage_size_bytes: bytes on disk of the audit database's active parts (system.parts).
// Refreshed on a timer and when /metrics is scraped (cached for a few seconds, one query in
// flight). A slow or failing store keeps the last value: a scrape must never fail because of
// this gauge, since a failed scrape reads as "service down" to Prometheus.
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Store } from './client.ts';

export async function storageSizeBytes(store: Store): Promise<number> {
  const rows = await store.query<{ bytes: string | number }>(
    `SELECT sum(bytes_on_disk) AS bytes FROM system.parts WHERE database = {database:String} AND active`,
    { database: store.database },
    'storage_size',
  );
  return Number(rows[0]?.bytes ?? 0);
}

export interface StorageSizeOptions {
  /** Background refresh period. */
  intervalMs: number;
  /** A scrape within this age of the last attempt reuses the value. */
  maxAgeMs: number;
  /** Longest a scrape waits for system.parts. */
  timeoutMs: number;
}

export interface StorageSizeWatcher {
  /** Queries system.parts now (shares a query already in flight); never throws. */
  refresh(): Promise<void>;
  stop(): Promise<void>;
}

export const STORAGE_SIZE_DEFAULTS: StorageSizeOptions = { intervalMs: 30_000, maxAgeMs: 5_000, timeoutMs: 2_000 };

export function watchStorageSize(store: Store, metrics: Metrics, log: Logger, opts: StorageSizeOptions = STORAGE_SIZE_DEFAULTS): StorageSizeWatcher {
  let lastAttempt = 0;
  let failing = false;
  let inflight: Promise<void> | undefined;

  const refresh = (): Promise<void> =>
    (inflight ??= (async () => {
      lastAttempt = Date.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`system.parts did not answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
        });
        metrics.storageSize.set(await Promise.race([storageSizeBytes(store), timeout]));
        if (failing) log.info('storage size refresh recovered');
        failing = false;
      } catch (err) {
        // Warn once per outage, not every 30 s.
        if (!failing) log.warn({ err }, 'storage size refresh failed; audit_storage_size_bytes keeps its last value');
        failing = true;
      } finally {
        clearTimeout(timer);
        inflight = undefined;
      }
    })());

  metrics.onStorageSizeScrape(() => (Date.now() - lastAttempt < opts.maxAgeMs ? Promise.resolve() : refresh()));
  const timer = setInterval(() => void refresh(), opts.intervalMs);
  timer.unref();
  void refresh();

  return {
    refresh,
    async stop() {
      clearInterval(timer);
      metrics.onStorageSizeScrape(undefined);
      await inflight;
    },
  };
}
