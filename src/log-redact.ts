// Value-based scrubbing for log lines, on top of pino's path-based `redact`: paths only catch
// fields we thought of, while a token can also travel inside an error message, a nested header
// object or a child logger's bindings. Every string that reaches a log line passes through the
// same credential patterns the ingest redactor uses; sensitive keys lose their values.
import { pino } from 'pino';
import { createRedactor, REDACTED } from './ingest/redact.ts';

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
  if (v instanceof Error) return scrubLogValue(pino.stdSerializers.err(v), depth + 1);
  if (Array.isArray(v)) return v.map((x) => scrubLogValue(x, depth + 1));
  if (v instanceof Date || Buffer.isBuffer(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    out[k] = sensitive(k) && x !== undefined && x !== null && x !== '' ? REDACTED : scrubLogValue(x, depth + 1);
  }
  return out;
}

/** pino options that scrub the message, the merging object and child bindings. */
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
