// pino, JSON by default, pretty on a terminal when AUDIT_LOG_PRETTY=true.
// Authorization headers, cookies and token-looking fields never reach a log line.
import { pino, type DestinationStream, type Logger } from 'pino';
import { logScrubbing, scrubChildBindings } from './log-redact.ts';

export type { Logger };

export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  '*.token',
  '*.password',
  '*.secret',
  'token',
  'password',
  'secret',
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
    ...(opts.pretty && !opts.destination ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  };
  return scrubChildBindings(opts.destination ? pino(options, opts.destination as DestinationStream) : pino(options));
}
