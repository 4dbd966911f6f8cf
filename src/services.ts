// Wires the long-lived parts of one service instance: store, migrations, spool, writer, verifier.
import { createVerifier, resolveJwtSecret } from './auth/jwt.ts';
import { readRateLimit, writeRateLimit } from './auth/rate-limit.ts';
import { AccessLog } from './query/access-log.ts';
import { readCacheFor } from './query/read-cache.ts';
import { SummaryCache } from './analytics/summary-cache.ts';
import type { Config } from './config.ts';
import type { Services } from './env.ts';
import { createRedactor } from './ingest/redact.ts';
import { BatchWriter } from './ingest/writer.ts';
import type { Logger } from './logger.ts';
import { startIntegrity } from './integrity/service.ts';
import { createMetrics } from './metrics.ts';
import { RetentionJob } from './retention/job.ts';
import { tableTtl } from './retention/policy.ts';
import { Store } from './store/client.ts';
import { migrate } from './store/migrate.ts';
import { watchStorageSize, type StorageSizeWatcher } from './store/storage-size.ts';
import type { WriteFaults } from './spool/faults.ts';
import { Spool } from './spool/spool.ts';
import { migrateWhenReachable } from './spool/store-ready.ts';

export interface StartedServices extends Services {
  /**
   * Flushes the writer, replays the spool until `drainDeadline` (epoch ms) or the store fails
   * (the rest stays on disk for the next start), and closes the spool and the store.
   */
  shutdown(opts?: { drainDeadline?: number }): Promise<void>;
  /** Keeps audit_storage_size_bytes current (timer + on scrape). */
  storageSize: StorageSizeWatcher;
}

/** `faults` is for the durability tests only (see src/spool/faults.ts). */
export async function startServices(config: Config, log: Logger, opts: { store?: Store; faults?: WriteFaults } = {}): Promise<StartedServices> {
  const metrics = createMetrics({ activityTypeLabels: config.metrics.activityTypes });
  const store = opts.store ?? (await Store.fromConfig(config, metrics));
  // Keys only: no store access until the first write, so a store that is down does not stop start-up.
  const integrity = await startIntegrity(config, store, log);
  const spool = config.spool.maxBytes > 0
    ? await Spool.open({ dir: config.spool.dir, maxBytes: config.spool.maxBytes, metrics, log, faults: opts.faults })
    : undefined;
  const readiness = await migrateWhenReachable(
    () => migrate(store, { ttl: tableTtl(config), log, cluster: config.clickhouse.cluster }),
    { log, deferrable: spool !== undefined && store.kind === 'server' },
  ).catch(async (err: unknown) => {
    await spool?.close(); // release the spool's lock for whoever starts next
    throw err;
  });
  const { secret } = resolveJwtSecret(config);
  const verifier = createVerifier({ ...config.jwt, secret: config.jwt.jwksUrl ? undefined : secret });
  // In-memory reads (off in server mode unless configured): see src/query/tail.ts.
  const summaries = config.readCache.bytes > 0 ? new SummaryCache(store) : undefined;
  const writer = new BatchWriter(
    store,
    {
      maxRows: config.ingest.batchMaxRows, lingerMs: config.ingest.batchLingerMs, maxWaitMs: config.ingest.batchMaxWaitMs,
      maxQueuedRows: config.ingest.maxQueuedRows, chain: integrity.chain, tail: readCacheFor(store, config), onStored: summaries ? [summaries] : [],
    },
    metrics,
    log,
    { spool, storeReady: readiness.ready, faults: opts.faults },
  );
  const storageSize = watchStorageSize(store, metrics, log);
  const redactor = createRedactor(config.ingest.redactKeys);
  const accessLog = new AccessLog(writer, redactor, { ...config.accessLog }, log, metrics);
  const rateLimit = readRateLimit(config.limits.readRatePerMinute);
  const writeLimit = writeRateLimit(config.limits.writeEventsPerMinute);
  if (config.jwt.jwksUrl && !/^https:|^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:|\/)/.test(config.jwt.jwksUrl)) {
    log.warn({ jwks: config.jwt.jwksUrl }, 'AUDIT_JWKS_URL is plain http: signing keys can be swapped in transit; use https');
  }
  const retention = new RetentionJob({ store, config, metrics, log, integrity: { mac: integrity.keys.mac }, beforeRun: () => writer.barrier() });
  // A bad AUDIT_ARCHIVE_SIGNING_KEY stops start-up now, not at 02:00.
  if (config.retention.archiveEnabled && config.retention.signingKey) await retention.signer();
  return {
    config,
    store,
    writer,
    verifier,
    metrics,
    log,
    redactor,
    accessLog,
    readRateLimit: rateLimit,
    writeRateLimit: writeLimit,
    storageSize,
    retention,
    integrity,
    summaries,
    async shutdown(o = {}) {
      await retention.idle();
      await storageSize.stop();
      rateLimit.shutdown();
      writeLimit.shutdown();
      await accessLog.close(); // before the writer closes: pending access events are stored
      await writer.close(o);
      await integrity.close().catch((err: unknown) => log.error({ err }, 'sealing the hash chains failed'));
      readiness.stop();
      await spool?.close();
      if (!opts.store) await store.close();
    },
  };
}
