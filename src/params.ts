// Integer query parameters, shared by every router. `z.coerce.number()` takes whatever Number()
// takes ("0x10", "1e3", " 5", "", "Infinity"), and a value past 2^53 silently changes on the way
// to a bound UInt64. Here only plain decimal digits are accepted, checked before any conversion,
// so every value the client cannot use is a 400 naming the range, and a handler only ever sees
// a safe integer inside it. The OpenAPI document still says `type: integer` with its bounds.
import { z } from '@hono/zod-openapi';
import { problem } from './problems.ts';

/** Longer than any bound we declare, shorter than 2^53: a digit string of this length is exact. */
const MAX_DIGITS = 15;
const DECIMAL = new RegExp(`^\\d{1,${MAX_DIGITS}}$`);

/** A whole number in [min, max], written in decimal digits (leading zeros allowed: still exact). */
export function queryInt(min: number, max: number) {
  const message = `must be a whole number from ${min} to ${max}, in decimal digits`;
  return z.preprocess((v, ctx) => {
    if (v === undefined || typeof v === 'number') return v;
    if (typeof v !== 'string' || !DECIMAL.test(v)) {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
    return Number(v);
  }, z.number().int().min(min, message).max(max, message));
}

/**
 * A keyset cursor that is a sequence number we issued: decimal digits, at most
 * Number.MAX_SAFE_INTEGER, kept as a string so it reaches the store exactly as written.
 */
export const seqCursor = z.string().refine(
  (s) => /^\d{1,16}$/.test(s) && Number(s) <= Number.MAX_SAFE_INTEGER,
  'must be the next_cursor of the previous page',
);

/** The 400 for request parameters that failed their schema: one problem naming every field. */
export function invalidParameters(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>) {
  const errors = issues.map((i) => ({ field: i.path.join('.'), message: i.message }));
  return problem('invalid-parameters', `Invalid request parameters: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, { errors });
}
