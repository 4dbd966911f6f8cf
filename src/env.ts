// What middleware puts on the Hono context. Middleware injects; handlers read c.var.
import type { TokenVerifier } from './auth/jwt.ts';
import type { Principal } from './auth/principal.ts';
import type { Config } from './config.ts';
import type { Redactor } from './ingest/redact.ts';
import type { Integrity } from './integrity/service.ts';
import type { SummaryCache } from './analytics/summary-cache.ts';
import type { BatchWriter } from './ingest/writer.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { AccessLog } from './query/access-log.ts';
import type { ReadRateLimit, WriteRateLimit } from './auth/rate-limit.ts';
import type { RetentionJob } from './retention/job.ts';
import type { Store } from './store/client.ts';

export interface Services {
  config: Config;
  store: Store;
  writer: BatchWriter;
  verifier: TokenVerifier;
  metrics: Metrics;
  log: Logger;
  redactor: Redactor;
  /** Records reads as audit.accessed events (src/query/access-log.ts). */
  accessLog?: AccessLog;
  /** Per-caller limit on GET /api/* (src/auth/rate-limit.ts). */
  readRateLimit: ReadRateLimit;
  /** Per-tenant events per minute on every ingest path (src/auth/rate-limit.ts). */
  writeRateLimit: WriteRateLimit;
  /** The retention/archive job (runs on a timer only under `serve`). */
  retention: RetentionJob;
  integrity: Integrity;
  /** The summary kept in memory (src/analytics/summary-cache.ts); undefined: off. */
  summaries?: SummaryCache | undefined;
}

export type AppEnv = {
  Variables: {
    requestId: string;
    log: Logger;
    services: Services;
    /** Set by `authenticate` on /api routes. */
    principal: Principal;
    /** The tenant a read was bound to (set by readTenant), for the access log. */
    accessTenant: string | undefined;
    /** Rows a read returned, for the access log. */
    accessRows: number | undefined;
    /** The event id of a read by id, for the access log. */
    accessResource: string | undefined;
    /** Set by endpoints that record their own access event (export, when its stream ends). */
    accessAudited: boolean | undefined;
  };
};
