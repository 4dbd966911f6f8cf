// pino, JSON by default, pretty on a terminal when AUDIT_LOG_PRETTY=true.
// Authorization headers, cookies and token-looking fields never reach a log line.
import { pino, type DestinationStream, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import { logScrubbing, scrubChildBindings } from './log-redact.ts';

export type { Logger };

export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  'authorization',
  '*.authorization',
  '*.token',
  '*.password',
  '*.secret',
  'token',
  'password',
  'secret',
  'access_token',
  '*.access_token',
  'api_key',
  '*.api_key',
  // The configuration, should anyone log it: HS256 secret and ClickHouse password.
  'config.jwt.secret',
  'config.clickhouse.password',
  'jwt.secret',
  'clickhouse.password',
];

export interface LoggerOptions {
  level: string;
  pretty?: boolean;
  /** Where lines go (default: stdout). Tests pass a stream to read them back. */
  destination?: DestinationStream | NodeJS.WritableStream;
}

/**
 * A child logger made only when first used: most requests never log through their own, and a
 * pino child (bindings serialised and scrubbed) per request was 5% of the CPU of single posts.
 */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  let real: Logger | undefined;
  const noop = () => {};
  return new Proxy({} as Logger, {
    get(_target, prop) {
      // A disabled level (debug at INFO) logs nothing: no child needed for it.
      if (typeof prop === 'string' && prop in parent.levels.values && !parent.isLevelEnabled(prop)) return noop;
      real ??= parent.child(bindings);
      const v = (real as unknown as Record<PropertyKey, unknown>)[prop];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(real) : v;
    },
  });
}

const accessLoggers = new WeakMap<Logger, Logger>();

/**
 * The logger of the one line per request: same level, destination and format, but without the
 * path redaction and value scrubbing hooks (7% of the CPU of single posts), because that line
 * carries only fields the app sets, and scrubs its free-form strings itself (app.ts).
 */
export function accessLoggerOf(log: Logger): Logger {
  return accessLoggers.get(log) ?? log;
}

export function createLogger(opts: LoggerOptions): Logger {
  const options = {
    level: opts.level,
    base: { service: 'audithouse' },
    redact: { paths: LOG_REDACT_PATHS, censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Token-like values are scrubbed wherever they sit (message, fields, errors, bindings).
    hooks: logScrubbing.hooks,
    formatters: { level: (label: string) => ({ level: label }), ...logScrubbing.formatters },
  };
  if (opts.pretty) {
    // In-process (not a worker transport): a terminal aid, so lines appear in order and none
    // is lost at exit. Colour only when the destination is a terminal.
    const colorize = !opts.destination && process.stdout.isTTY === true;
    const destination = opts.destination ?? 1;
    return scrubChildBindings(pino(options, pinoPretty({ colorize, destination, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', sync: true })));
  }
  const destination = (opts.destination ?? pino.destination({ dest: 1, sync: true })) as DestinationStream;
  const log = scrubChildBindings(pino(options, destination));
  accessLoggers.set(log, pino({ level: opts.level, base: options.base, timestamp: options.timestamp, formatters: { level: options.formatters.level } }, destination));
  return log;
}
