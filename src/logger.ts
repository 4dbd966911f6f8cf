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
  return scrubChildBindings(opts.destination ? pino(options, opts.destination as DestinationStream) : pino(options));
}
