// What middleware puts on the Hono context. Middleware injects; handlers read c.var.
import type { TokenVerifier } from './auth/jwt.ts';
import type { Principal } from './auth/principal.ts';
import type { Config } from './config.ts';
import type { Redactor } from './ingest/redact.ts';
import type { Integrity } from './integrity/service.ts';
import type { BatchWriter } from './ingest/writer.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { Store } from './store/client.ts';

export interface Services {
  config: Config;
  store: Store;
  writer: BatchWriter;
  verifier: TokenVerifier;
  metrics: Metrics;
  log: Logger;
  redactor: Redactor;
  integrity: Integrity;
}

export type AppEnv = {
  Variables: {
    requestId: string;
    log: Logger;
    services: Services;
    /** Set by `authenticate` on /api routes. */
    principal: Principal;
  };
};
