// Wires the long-lived parts of one service instance: store, migrations, writer, verifier.
import { createVerifier, resolveJwtSecret } from './auth/jwt.ts';
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
  const integrity = await startIntegrity(config, store, log);
  const writer = new BatchWriter(store, { maxRows: config.ingest.batchMaxRows, lingerMs: config.ingest.batchLingerMs, chain: integrity.chain }, metrics, log);
  return {
    config,
    store,
    writer,
    verifier,
    metrics,
    log,
    redactor: createRedactor(config.ingest.redactKeys),
    integrity,
    async shutdown() {
      await writer.close();
      await integrity.close().catch((err: unknown) => log.error({ err }, 'sealing the hash chains failed'));
      if (!opts.store) await store.close();
    },
  };
}
