// Wires the long-lived parts of one service instance: store, migrations, writer, verifier.
import { createVerifier, resolveJwtSecret } from './auth/jwt.ts';
import { readRateLimit } from './auth/rate-limit.ts';
import { AccessLog } from './query/access-log.ts';
import type { Config } from './config.ts';
import type { Services } from './env.ts';
import { createRedactor } from './ingest/redact.ts';
import { BatchWriter } from './ingest/writer.ts';
import type { Logger } from './logger.ts';
import { startIntegrity } from './integrity/service.ts';
import { createMetrics } from './metrics.ts';
import { retentionPolicy } from './retention/policy.ts';
import { Store } from './store/client.ts';
import { migrate } from './store/migrate.ts';
import { watchStorageSize, type StorageSizeWatcher } from './store/storage-size.ts';

export interface StartedServices extends Services {
  /** Flushes the writer and closes the store. */
  shutdown(): Promise<void>;
  /** Keeps audit_storage_size_bytes current (timer + on scrape). */
  storageSize: StorageSizeWatcher;
}

export async function startServices(config: Config, log: Logger, opts: { store?: Store } = {}): Promise<StartedServices> {
  const metrics = createMetrics({ activityTypeLabels: config.metrics.activityTypes });
  const store = opts.store ?? (await Store.fromConfig(config, metrics));
  await migrate(store, { policy: retentionPolicy(config), log, cluster: config.clickhouse.cluster });
  const { secret } = resolveJwtSecret(config);
  const verifier = createVerifier({ ...config.jwt, secret: config.jwt.jwksUrl ? undefined : secret });
  const integrity = await startIntegrity(config, store, log);
  const writer = new BatchWriter(store, { maxRows: config.ingest.batchMaxRows, lingerMs: config.ingest.batchLingerMs, chain: integrity.chain }, metrics, log);
  const storageSize = watchStorageSize(store, metrics, log);
  const redactor = createRedactor(config.ingest.redactKeys);
  const accessLog = new AccessLog(writer, redactor, { ...config.accessLog }, log, metrics);
  const rateLimit = readRateLimit(config.limits.readRatePerMinute);
  if (config.jwt.jwksUrl && !/^https:|^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:|\/)/.test(config.jwt.jwksUrl)) {
    log.warn({ jwks: config.jwt.jwksUrl }, 'AUDIT_JWKS_URL is plain http: signing keys can be swapped in transit; use https');
  }
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
    storageSize,
    integrity,
    async shutdown() {
      await storageSize.stop();
      rateLimit.shutdown();
      await accessLog.close(); // before the writer closes: pending access events are stored
      await writer.close();
      await integrity.close().catch((err: unknown) => log.error({ err }, 'sealing the hash chains failed'));
      if (!opts.store) await store.close();
    },
  };
}
