// Value-based scrubbing for log lines, on top of pino's path-based `redact`: paths only catch
// fields we thought of, while a token can also travel inside an error message, a nested header
// object or a child logger's bindings. Every string that reaches a log line passes through the
// same credential patterns the ingest redactor uses; sensitive keys lose their values.
import type { pino } from 'pino';
import { createRedactor, REDACTED } from './ingest/redact.ts';
import { clickhouseCode, isRetryable, StoreError } from './store/errors.ts';

const LOG_SECRET_KEYS = ['authorization', 'cookie', 'password', 'passwd', 'secret', 'token', 'api_key', 'apikey', 'private_key', 'credential'];
const redactor = createRedactor(LOG_SECRET_KEYS);
const sensitive = (key: string) => redactor.details({ [key]: 0 }).count > 0;
const MAX_DEPTH = 8;

export function scrubLogString(s: string): string {
  return redactor.tokens(s).value;
}

/** A scrubbed copy (never mutates what the caller logged). */
export function scrubLogValue(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return scrubLogString(v);
  if (v === null || typeof v !== 'object') return v;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (v instanceof Error) return scrubError(v, depth);
  if (Array.isArray(v)) return v.map((x) => scrubLogValue(x, depth + 1));
  if (v instanceof Date || Buffer.isBuffer(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    out[k] = sensitive(k) && x !== undefined && x !== null && x !== '' ? REDACTED : scrubLogValue(x, depth + 1);
  }
  return out;
}

/** A copy of the error with the same class (pino reports its name), every string scrubbed. */
function scrubError(err: Error, depth: number): Error {
  const copy = Object.create(Object.getPrototypeOf(err) as object) as Error & Record<string, unknown>;
  for (const key of ['name', 'message', 'stack'] as const) {
    if (typeof err[key] === 'string') Object.defineProperty(copy, key, { value: scrubLogString(err[key]), enumerable: false, writable: true, configurable: true });
  }
  for (const [k, x] of Object.entries(err)) copy[k] = sensitive(k) ? REDACTED : scrubLogValue(x, depth + 1);
  if (err.cause !== undefined) copy.cause = scrubLogValue(err.cause, depth + 1);
  return copy;
}

/**
 * Child bindings are serialised once, when the child is made, and pino resets the bindings
 * formatter for children; so `child` itself scrubs them. Children inherit the wrapper.
 */
export function scrubChildBindings(logger: pino.Logger): pino.Logger {
  const child = logger.child;
  logger.child = function scrubbedChild(this: pino.Logger, bindings, options) {
    return child.call(this, scrubLogValue(bindings) as typeof bindings, options);
  } as typeof logger.child;
  return logger;
}

/** pino options that scrub the message, the merging object and the root bindings. */
export const logScrubbing = {
  formatters: {
    log: (obj: Record<string, unknown>) => scrubLogValue(obj) as Record<string, unknown>,
    bindings: (b: Record<string, unknown>) => scrubLogValue(b) as Record<string, unknown>,
  },
  hooks: {
    logMethod(this: pino.Logger, args: unknown[], method: (...a: unknown[]) => void) {
      method.apply(this, args.map((a) => (typeof a === 'string' ? scrubLogString(a) : a)));
    },
  },
};

const MAX_MESSAGE_CHARS = 2_000;
const MAX_STACK_FRAMES = 25;
const MAX_CAUSES = 3;

/**
 * An error message with the values it may quote taken out. ClickHouse quotes the offending input
 * ("Cannot parse string 'x' as UInt32", "Column values: description = 'x'"), JSON.parse quotes
 * the body, and our own messages interpolate values in quotes: every '…' or "…" literal becomes
 * '?' and a "Column values:" tail is dropped. Backquoted identifiers (tables, constraints) stay:
 * they name the schema, not the data. Tokens are scrubbed as everywhere else.
 */
export function valueFreeMessage(message: string): string {
  const stripped = message
    .replace(/Column values:[\s\S]*$/, 'Column values: [omitted]')
    .replace(/'(?:[^'\\]|\\.|'')*'?/g, "'?'")
    .replace(/"(?:[^"\\]|\\.)*"?/g, '"?"');
  const s = scrubLogString(stripped);
  return s.length > MAX_MESSAGE_CHARS ? `${s.slice(0, MAX_MESSAGE_CHARS)}…` : s;
}

/**
 * What an operator needs to diagnose an unexpected error, for a log line: its name and class,
 * the ClickHouse (or errno) code, whether it is retryable, the value-free message, the stack
 * frames (their first line repeats the message, so it is rebuilt from the value-free one) and
 * the chain of causes. The error object itself is never logged: its own fields may hold rows.
 */
export function diagnosticError(err: unknown, depth = 0): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err };
  const message = valueFreeMessage(err.message);
  const frames = (err.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)).slice(0, MAX_STACK_FRAMES);
  const errno = (err as NodeJS.ErrnoException).code;
  const code = clickhouseCode(err) ?? (typeof errno === 'string' || typeof errno === 'number' ? String(errno) : undefined);
  const out: Record<string, unknown> = {
    type: err.name,
    class: err.constructor?.name ?? 'Error',
    ...(code !== undefined ? { code } : {}),
    retryable: isRetryable(err),
    ...(err instanceof StoreError ? { operation: err.operation } : {}),
    message,
    stack: [`${err.name}: ${message}`, ...frames.map((f) => scrubLogString(f))].join('\n'),
  };
  if (err.cause !== undefined && depth < MAX_CAUSES) out.cause = diagnosticError(err.cause, depth + 1);
  return out;
}
