// The service's whole configuration: one zod schema over the environment, parsed once.
// Nothing else in the code base reads process.env.
import path from 'node:path';
import { EnvSchema } from './config-schema.ts';
import type { Severity } from './event/model.ts';
import { loadSinksFile, SinksFileError, type SinkDefinition } from './sinks/config.ts';

// The environment's schema (every variable, its bounds, default and purpose): src/config-schema.ts.

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  clickhouse: {
    url: string | undefined;
    user: string;
    password: string;
    database: string;
    cluster: string | undefined;
  };
  log: { level: string; pretty: boolean };
  retention: {
    days: Record<Severity, number>;
    archiveEnabled: boolean;
    archiveLocation: string;
    schedule: string;
    /** AUDIT_ARCHIVE_SIGNING_KEY (secret: never log it). */
    signingKey: string | undefined;
  };
  jwt: {
    secret: string | undefined;
    jwksUrl: string | undefined;
    issuer: string | undefined;
    audience: string | undefined;
    jwksCooldownMs: number;
    /** AUDIT_JWT_MAX_TTL: longest exp - iat accepted, seconds (undefined: no limit). */
    maxTtlS: number | undefined;
  };
  /** Per minute; 0 = off. Reads: per token identity; writes: events per tenant. */
  limits: { readRatePerMinute: number; writeEventsPerMinute: number };
  accessLog: { enabled: boolean; windowMs: number };
  /** Bytes of the in-process read cache; 0: off. */
  readCache: { bytes: number };
  ingest: { batchMaxRows: number; batchMaxWaitMs: number; batchLingerMs: number; trustProxy: boolean; redactKeys: string[]; maxQueuedRows: number };
  /** Activity types with their own metric label; undefined = the built-in list. */
  metrics: { activityTypes: string[] | undefined };
  /** maxBytes 0: no spool (a store failure is answered 503). */
  spool: { dir: string; maxBytes: number };
  shutdownTimeoutMs: number;
  integrity: {
    instanceId: string | undefined;
    key: string | undefined;
    signingKey: string | undefined;
    trustedKeysFile: string | undefined;
    checkpointIntervalS: number;
    piiDetailKeys: string[];
    piiResourceTypes: string[];
  };
  /** From AUDIT_SINKS_FILE (empty without it). Holds secrets (headers, tokens): never log it. */
  sinks: SinkDefinition[];
}

/** `details` keys treated as personal data unless AUDIT_PII_DETAIL_KEYS says otherwise. */
export const DEFAULT_PII_DETAIL_KEYS = ['email', 'phone', 'full_name', 'username', 'user_id', 'ip_address', 'user_agent'];
/** Resource types whose resource_id is a person, unless AUDIT_PII_RESOURCE_TYPES says otherwise. */
export const DEFAULT_PII_RESOURCE_TYPES = ['user'];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment into a Config, or throws a ConfigError naming every bad variable. */
export function loadConfig(rawEnv: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable is an unset one (VAR= in a compose file or a shell): its default applies,
  // never a silent 0 or "" (AUDIT_SPOOL_MAX_BYTES= would otherwise turn the spool off).
  const env = Object.fromEntries(Object.entries(rawEnv).filter(([, v]) => v !== '')) as NodeJS.ProcessEnv;
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const name = String(i.path[0]);
        // Never echo a secret, even a wrong one.
        const got = /SECRET|PASSWORD|KEY$/.test(name) ? 'value hidden' : `got ${JSON.stringify(env[name] ?? null)}`;
        return `${i.path.join('.')}: ${i.message} (${got})`;
      }),
    );
  }
  const e = parsed.data;
  let sinks: SinkDefinition[] = [];
  if (e.AUDIT_SINKS_FILE) {
    try {
      sinks = loadSinksFile(path.resolve(e.AUDIT_SINKS_FILE), env);
    } catch (err) {
      if (err instanceof SinksFileError) throw new ConfigError(err.problems.map((p) => `AUDIT_SINKS_FILE: ${p}`));
      throw err;
    }
  }
  const retentionFallback = env.AUDIT_RETENTION_DAYS ? e.AUDIT_RETENTION_DAYS : undefined;
  const dataDir = path.resolve(e.AUDIT_DATA_DIR);
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir,
    clickhouse: {
      url: e.CLICKHOUSE_URL,
      user: e.CLICKHOUSE_USER,
      password: e.CLICKHOUSE_PASSWORD,
      database: e.CLICKHOUSE_DATABASE,
      cluster: e.CLICKHOUSE_CLUSTER,
    },
    log: { level: e.AUDIT_LOG_LEVEL, pretty: e.AUDIT_LOG_PRETTY },
    retention: {
      // Precedence: a severity's own variable, then AUDIT_RETENTION_DAYS when the operator set it,
      // then the contract defaults (30/60/90/365).
      days: {
        LOW: e.AUDIT_RETENTION_LOW ?? retentionFallback ?? 30,
        MEDIUM: e.AUDIT_RETENTION_MEDIUM ?? retentionFallback ?? 60,
        HIGH: e.AUDIT_RETENTION_HIGH ?? retentionFallback ?? 90,
        CRITICAL: e.AUDIT_RETENTION_CRITICAL ?? retentionFallback ?? 365,
      },
      archiveEnabled: e.AUDIT_ARCHIVE_ENABLED,
      archiveLocation: path.resolve(e.AUDIT_ARCHIVE_LOCATION ?? path.join(dataDir, 'archive')),
      schedule: e.AUDIT_RETENTION_SCHEDULE,
      signingKey: e.AUDIT_ARCHIVE_SIGNING_KEY,
    },
    jwt: {
      secret: e.AUDIT_JWT_SECRET,
      jwksUrl: e.AUDIT_JWKS_URL,
      issuer: e.AUDIT_JWT_ISSUER,
      audience: e.AUDIT_JWT_AUDIENCE,
      jwksCooldownMs: e.AUDIT_JWKS_COOLDOWN_MS,
      maxTtlS: e.AUDIT_JWT_MAX_TTL,
    },
    limits: { readRatePerMinute: e.AUDIT_READ_RATE_LIMIT, writeEventsPerMinute: e.AUDIT_WRITE_RATE_LIMIT },
    accessLog: { enabled: e.AUDIT_ACCESS_LOG_ENABLED, windowMs: e.AUDIT_ACCESS_LOG_WINDOW_MS },
    // On by default in embedded mode (this process is the engine's only writer); off with a server,
    // where other instances may write and erase the same tenants (src/query/tail.ts).
    readCache: { bytes: (e.AUDIT_READ_CACHE_MB ?? (e.CLICKHOUSE_URL ? 0 : 64)) * 1024 * 1024 },
    ingest: {
      batchMaxRows: e.AUDIT_BATCH_MAX_ROWS,
      batchMaxWaitMs: e.AUDIT_BATCH_MAX_WAIT_MS,
      batchLingerMs: e.AUDIT_BATCH_LINGER_MS,
      trustProxy: e.AUDIT_TRUST_PROXY,
      redactKeys: e.AUDIT_REDACT_KEYS,
      maxQueuedRows: e.AUDIT_INGEST_MAX_QUEUED_ROWS,
    },
    metrics: { activityTypes: e.AUDIT_METRICS_ACTIVITY_TYPES },
    spool: {
      // One spool per destination database: its rows belong there, whichever store mode drains them.
      dir: path.join(dataDir, 'spool', e.CLICKHOUSE_DATABASE),
      maxBytes: e.AUDIT_SPOOL_MAX_BYTES,
    },
    shutdownTimeoutMs: e.AUDIT_SHUTDOWN_TIMEOUT_MS,
    integrity: {
      instanceId: e.AUDIT_INSTANCE_ID,
      key: e.AUDIT_INTEGRITY_KEY,
      signingKey: e.AUDIT_INTEGRITY_SIGNING_KEY,
      trustedKeysFile: e.AUDIT_INTEGRITY_TRUSTED_KEYS === undefined ? undefined : path.resolve(e.AUDIT_INTEGRITY_TRUSTED_KEYS),
      checkpointIntervalS: e.AUDIT_CHECKPOINT_INTERVAL_S,
      piiDetailKeys: e.AUDIT_PII_DETAIL_KEYS ?? DEFAULT_PII_DETAIL_KEYS,
      piiResourceTypes: e.AUDIT_PII_RESOURCE_TYPES ?? DEFAULT_PII_RESOURCE_TYPES,
    },
    sinks,
  };
}
