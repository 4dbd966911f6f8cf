// pino, JSON by default, pretty on a terminal when AUDIT_LOG_PRETTY=true.
// Authorization headers, cookies and token-looking fields never reach a log line.
import { pino, type Logger } from 'pino';

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

export function createLogger(opts: { level: string; pretty?: boolean }): Logger {
  return pino({
    level: opts.level,
    base: { service: 'audithouse' },
    redact: { paths: LOG_REDACT_PATHS, censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    ...(opts.pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  });
}
