// Wires the long-lived parts of one service instance: store, migrations, writer, verifier.
import { createVerifier, resolveJwtSecret } from './auth/jwt.ts';
import type { Config } from './config.ts';
import type { Services } from './env.ts';
import { createRedactor } from './ingest/redact.ts';
import { BatchWriter } from './ingest/writer.ts';
import type { Logger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { RetentionJob } from './retention/job.ts';
import { retentionPolicy } from './retention/policy.ts';
import { Store } from './store/client.ts';
import { migrate } from './store/migrate.ts';

export interface StartedServices extends Services {
  /** Flushes the writer and closes the store. */
  shutdown(): Promise<void>;
}

export async function startServices(config: Config, log: Logger, opts: { store?: Store } = {}): Promise<StartedServices> {
  const metrics = createMetrics();
  const store = opts.store ?? (await Store.fromConfig(config, metrics));
  await migrate(store, { policy: retentionPolicy(config), log });
  const { secret } = resolveJwtSecret(config);
  const verifier = createVerifier({ ...config.jwt, secret: config.jwt.jwksUrl ? undefined : secret });
  const writer = new BatchWriter(store, { maxRows: config.ingest.batchMaxRows, lingerMs: config.ingest.batchLingerMs }, metrics, log);
  const retention = new RetentionJob({ store, config, metrics, log });
  // A bad AUDIT_ARCHIVE_SIGNING_KEY stops start-up now, not at 02:00.
  if (config.retention.archiveEnabled && config.retention.signingKey) await retention.signer();
  return {
    config,
    store,
    writer,
    verifier,
    metrics,
    log,
    redactor: createRedactor(config.ingest.redactKeys),
    retention,
    async shutdown() {
      await retention.idle();
      await writer.close();
      if (!opts.store) await store.close();
    },
  };
}
