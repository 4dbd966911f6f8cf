// The environment variables the service reads, as one zod schema (parsed once, by loadConfig in
// src/config.ts): each variable's type, bounds and default, and why it exists.
import { Cron } from 'croner';
import { z } from 'zod';
import { ACTIVITY_TYPE_RE } from './event/patterns.ts';
import { redactKeysFrom } from './ingest/redact.ts';

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'TRUE', 'FALSE'], {
      message: 'expected true or false',
    })
    .optional()
    .transform((v) => (v === undefined ? fallback : ['true', '1', 'yes', 'TRUE'].includes(v)));

const days = z.coerce
  .number({ message: 'expected a number of days' })
  .int('expected a whole number of days')
  .min(1, 'must be at least 1 day')
  .max(36500, 'must be at most 36500 days');

const optionalDays = z.preprocess((v) => (v === '' ? undefined : v), days.optional());

const optionalString = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());

const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a plain identifier (letters, digits, _)');

/** Comma-separated activity types; a bounded list, since each becomes a label value. */
const activityTypeList = optionalString.transform((v, ctx) => {
  if (v === undefined) return undefined;
  const types = [...new Set(v.split(',').map((t) => t.trim()).filter(Boolean))];
  const bad = types.filter((t) => !ACTIVITY_TYPE_RE.test(t) || t.length > 128);
  if (bad.length > 0) ctx.addIssue({ code: 'custom', message: `not dotted lowercase activity types: ${bad.join(', ')}` });
  if (types.length > 200) ctx.addIssue({ code: 'custom', message: `at most 200 activity types (each is a metric label value); got ${types.length}` });
  return types;
});

const logLevel = z
  .string()
  .transform((v) => v.toLowerCase())
  .pipe(z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], {
    message: 'expected one of DEBUG, INFO, WARN, ERROR',
  }));

export const EnvSchema = z.object({
  PORT: z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int().min(0).max(65535).default(8080)),
  HOST: z.string().default('0.0.0.0'),
  AUDIT_DATA_DIR: z.string().min(1).default('./data'),

  CLICKHOUSE_URL: optionalString.pipe(z.url({ message: 'expected an http(s) URL' }).optional()),
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().default(''),
  CLICKHOUSE_DATABASE: identifier.default('audit'),
  CLICKHOUSE_CLUSTER: optionalString.pipe(identifier.optional()),

  AUDIT_LOG_LEVEL: logLevel.default('info'),
  AUDIT_LOG_PRETTY: bool(false),

  AUDIT_RETENTION_DAYS: days.default(90),
  AUDIT_RETENTION_LOW: optionalDays,
  AUDIT_RETENTION_MEDIUM: optionalDays,
  AUDIT_RETENTION_HIGH: optionalDays,
  AUDIT_RETENTION_CRITICAL: optionalDays,
  AUDIT_ARCHIVE_ENABLED: bool(true),
  AUDIT_ARCHIVE_LOCATION: optionalString,
  AUDIT_RETENTION_SCHEDULE: z.string().default('0 2 * * *').refine(isSchedule, 'expected a cron pattern (croner syntax) or "off"'),
  // Ed25519 private key (JWK JSON or PKCS#8 PEM) that signs archive manifests; unset: generated in
  // the data dir on first use. Checked when the retention job starts, so a bad value is never echoed.
  AUDIT_ARCHIVE_SIGNING_KEY: optionalString,

  AUDIT_JWT_SECRET: optionalString.pipe(
    z.string().min(32, 'must be at least 32 characters (256 bits) for HS256').optional(),
  ),
  AUDIT_JWKS_URL: optionalString.pipe(z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' }).optional()),
  AUDIT_JWT_ISSUER: optionalString,
  AUDIT_JWT_AUDIENCE: optionalString,
  // Longest token lifetime accepted (exp - iat, seconds); when set, a token without iat or exp is
  // refused too. Unset: no limit beyond exp itself.
  AUDIT_JWT_MAX_TTL: z.coerce.number({ message: 'expected a number of seconds' }).int('expected whole seconds')
    .min(1, 'must be at least 1 second').max(10 * 366 * 86_400, 'must be at most 10 years').optional(),
  // Minimum time between JWKS refetches triggered by an unknown `kid` (rotation vs. refetch storms).
  AUDIT_JWKS_COOLDOWN_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),

  // Ingest: a request is acknowledged once fsynced into the write-ahead log; the drainer inserts
  // the log into ClickHouse in batches of up to MAX_ROWS, at the latest MAX_WAIT_MS after an event
  // was acknowledged (about one insert per second at steady load). LINGER_MS: how long an fsync
  // waits to gather more requests (group commit).
  AUDIT_BATCH_MAX_ROWS: z.coerce.number().int().min(1).max(1_000_000).default(20_000),
  AUDIT_BATCH_MAX_WAIT_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  AUDIT_BATCH_LINGER_MS: z.coerce.number().int().min(0).max(10_000).default(2),
  // Take ip_address from X-Forwarded-For only behind a proxy you control.
  AUDIT_TRUST_PROXY: bool(false),
  // Comma-separated keys whose values in `details` are replaced before storage: added to the
  // default list; "-key" removes a default.
  AUDIT_REDACT_KEYS: optionalString.transform((v) => redactKeysFrom(v)),

  // Reads per minute per token identity (tenant + sub) on GET /api/*; 0 turns the limit off.
  AUDIT_READ_RATE_LIMIT: z.coerce.number().int().min(0).max(1_000_000).default(600),
  // Events per minute per tenant, on every ingest path (native and OTLP); 0 turns the limit off.
  AUDIT_WRITE_RATE_LIMIT: z.coerce.number({ message: 'expected a number of events per minute' }).int('expected a whole number')
    .min(0, 'must be 0 (off) or more').max(1_000_000_000).default(0),
  // Reading is audited (audit.accessed events); identical reads within the window are coalesced.
  AUDIT_ACCESS_LOG_ENABLED: bool(true),
  AUDIT_ACCESS_LOG_WINDOW_MS: z.coerce.number().int().min(10).max(60_000).default(2_000),
  // Activity types counted under their own label in audit_activities_total (replaces the default list).
  AUDIT_METRICS_ACTIVITY_TYPES: activityTypeList,

  // The write-ahead log ($AUDIT_DATA_DIR/spool/<database>): every acknowledged event is in it until
  // stored; its bound is how much a store outage can absorb. 0: no log, a write is answered only
  // once stored (and refused with 503 while the store fails).
  AUDIT_SPOOL_MAX_BYTES: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
    .refine((n) => n === 0 || n >= 4096, 'must be 0 (no spool) or at least 4096 bytes')
    .default(1024 * 1024 * 1024),
  // In-process read cache (src/query/tail.ts): MiB for the newest stored events per tenant and
  // filter, and events by id. Unset: 64 in embedded mode (this process is the only writer of its
  // data directory), 0 (off) in server mode, where other instances or tools may write or delete
  // in the same ClickHouse unseen; set it there only when this instance is the only one.
  AUDIT_READ_CACHE_MB: z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int().min(0).max(65_536).optional()),
  // Rows that may wait in memory for the writer; past it, posts get 429 + Retry-After.
  AUDIT_INGEST_MAX_QUEUED_ROWS: z.coerce.number().int().min(10_000).max(10_000_000).default(100_000),
  // SIGTERM: how long to flush and drain before exiting anyway (acknowledged data stays spooled).
  AUDIT_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(600_000).default(20_000),
  // Integrity (src/integrity): hash chains, signed checkpoints, erasure.
  // Names this writer's streams; default: an id persisted in the data dir. Unique per replica.
  AUDIT_INSTANCE_ID: optionalString.pipe(
    z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, ".", "_" or "-"').optional(),
  ),
  // Master key for the chain MACs (base64/base64url, at least 32 bytes); default: generated in the data dir.
  AUDIT_INTEGRITY_KEY: optionalString,
  // Ed25519 private key (PKCS#8 PEM) that signs checkpoints; default: generated in the data dir.
  AUDIT_INTEGRITY_SIGNING_KEY: optionalString,
  // A JWKS file of the public keys verification trusts; default: the signing key's own public key.
  AUDIT_INTEGRITY_TRUSTED_KEYS: optionalString,
  // Seconds between signed checkpoints of each stream head (0: only at shutdown).
  AUDIT_CHECKPOINT_INTERVAL_S: z.coerce.number().int().min(0).max(86_400).default(60),
  // Comma-separated `details` keys whose values are personal data (hashed only through a MAC, erasable).
  AUDIT_PII_DETAIL_KEYS: optionalString.transform((v) =>
    v === undefined ? undefined : v.split(',').map((k) => k.trim()).filter(Boolean)),
  // Comma-separated resource types whose resource_id identifies a person (erasable like user_id).
  AUDIT_PII_RESOURCE_TYPES: optionalString.transform((v) =>
    v === undefined ? undefined : v.split(',').map((k) => k.trim()).filter(Boolean)),
  // Sinks that stored events stream to (src/sinks): a YAML or JSON file, ${VAR} from this environment.
  AUDIT_SINKS_FILE: optionalString,
});

/** A croner pattern, or "off" for an instance that must not run the job on a timer. */
function isSchedule(v: string): boolean {
  if (v === 'off') return true;
  try {
    new Cron(v, { paused: true }).stop();
    return true;
  } catch {
    return false;
  }
}
