// Secrets never reach storage: keys in `details` that name a secret (at any depth, arrays
// included) have their value replaced, and values that look like bearer tokens, JWTs or
// Luhn-valid card numbers are replaced wherever they sit in free text.
export const REDACTED = '[REDACTED]';

export const DEFAULT_REDACT_KEYS = [
  'password', 'passwd', 'secret', 'token', 'api_key', 'apikey', 'authorization', 'cookie',
  'session', 'private_key', 'credit_card', 'card_number', 'cvv', 'ssn',
];

/** "API-Key", "api_key" and "apiKey" are the same key to us. */
const normalizeKey = (k: string) => k.toLowerCase().replace(/[^a-z0-9]/g, '');

const JWT_RE = /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
const BEARER_RE = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/-]{8,}=*/gi;
// 13–19 digits, optionally grouped by single spaces or dashes.
const CARD_RE = /\b\d(?:[ -]?\d){12,18}\b/g;

function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

export interface Redactor {
  /** Returns a redacted copy of `details` and how many values were replaced. */
  details(details: Record<string, unknown>): { value: Record<string, unknown>; count: number };
  /** Redacts token- and card-like values inside a free-text string. */
  text(s: string): { value: string; count: number };
}

export function createRedactor(keys: readonly string[] = DEFAULT_REDACT_KEYS): Redactor {
  const needles = keys.map(normalizeKey).filter(Boolean);
  const sensitiveKey = (k: string) => {
    const n = normalizeKey(k);
    return needles.some((needle) => n.includes(needle));
  };

  const text = (s: string) => {
    let count = 0;
    const count1 = () => {
      count++;
      return REDACTED;
    };
    let value = s.replace(JWT_RE, count1).replace(BEARER_RE, count1);
    value = value.replace(CARD_RE, (m) => (luhnValid(m.replace(/[ -]/g, '')) ? count1() : m));
    return { value, count };
  };

  const walk = (v: unknown, depth: number, counter: { n: number }): unknown => {
    if (typeof v === 'string') {
      const r = text(v);
      counter.n += r.count;
      return r.value;
    }
    if (typeof v === 'number' && Number.isInteger(v) && v > 1e12) {
      const s = String(v);
      if (s.length >= 13 && s.length <= 19 && luhnValid(s)) {
        counter.n++;
        return REDACTED;
      }
      return v;
    }
    if (v === null || typeof v !== 'object') return v;
    if (depth > 64) return REDACTED; // absurd nesting: refuse to keep what we cannot inspect
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1, counter));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (sensitiveKey(k)) {
        counter.n++;
        out[k] = REDACTED;
      } else {
        out[k] = walk(x, depth + 1, counter);
      }
    }
    return out;
  };

  return {
    details(details) {
      const counter = { n: 0 };
      const value = walk(details, 0, counter) as Record<string, unknown>;
      return { value, count: counter.n };
    },
    text,
  };
}
