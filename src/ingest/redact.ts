// Secrets never reach storage: keys in `details` that name a secret (at any depth, arrays
// included) have their value replaced; inside every text value, the value after a secret-named
// key (`"password":"x"` in embedded JSON, `password: x` in prose, `?auth=x` in URLs) is replaced
// too; and values that look like credentials (JWTs, bearer/basic credentials, well-known API key
// formats, PEM and PGP private keys, passwords in URLs) or card numbers are replaced wherever
// they sit (src/event/credentials.ts holds those shapes).
import { REDACTED, scrubCards, scrubTokens } from '../event/credentials.ts';

export { REDACTED, luhnValid } from '../event/credentials.ts';

export const DEFAULT_REDACT_KEYS = [
  'password', 'passwd', 'passphrase', 'pass', 'pwd', 'secret', 'token', 'jwt', 'bearer', 'auth',
  'api_key', 'apikey', 'authorization', 'cookie', 'session', 'private_key', 'otp', 'pin',
  'credit_card', 'card_number', 'cvv', 'cvc', 'ssn',
];

/**
 * AUDIT_REDACT_KEYS: entries are added to the defaults; "-key" removes a default. Adding a key
 * can therefore never silently drop the protection of `password` and friends.
 */
export function redactKeysFrom(setting: string | undefined): string[] {
  const keys = new Set(DEFAULT_REDACT_KEYS);
  for (const raw of (setting ?? '').split(',')) {
    const entry = raw.trim();
    if (!entry) continue;
    if (entry.startsWith('-')) keys.delete(entry.slice(1).trim());
    else keys.add(entry);
  }
  return [...keys];
}

/** Deeper than this, a value is replaced whole: we refuse to keep what we will not inspect. */
const MAX_DEPTH = 64;

/** "API-Key", "api_key", "apiKey" and "APIKEY" are the same key to us. */
const normalizeKey = (k: string) => k.toLowerCase().replace(/[^a-z0-9]/g, '');

/** The words of a key: camelCase, snake_case, kebab-case, dotted and spaced keys all split alike. */
const keyWords = (k: string) =>
  k.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);

/**
 * Words that, right after a short needle, make the key describe a secret instead of holding one:
 * `auth_method: "saml"`, `pin_attempts: 3`, `otp_sent_at`. Without them `auth`, `pin` and `otp`
 * would hide some of the most useful fields of an audit event.
 */
const DESCRIBING = new Set([
  'method', 'methods', 'type', 'types', 'provider', 'mode', 'scheme', 'flow', 'level', 'strategy', 'source', 'kind', 'status',
  'state', 'result', 'enabled', 'required', 'attempts', 'attempt', 'count', 'length', 'sent', 'verified', 'expires', 'expiry',
  'at', 'time', 'ms', 'duration', 'id', 'name', 'channel', 'policy', 'changed', 'reset', 'failed', 'failures', 'error',
]);

/**
 * A key is sensitive when it contains a needle. Long needles (password, token, secret...) match
 * anywhere in the normalized key ("refreshtoken", "x-api-key", "db_password_hash"): erring on
 * the side of hiding. Short needles (ssn, cvv, pin, auth...) must be a whole word, optionally
 * followed by digits ("card_cvv", "cvv2", "SSN", "credentials.pass"), because as substrings they
 * sit inside innocent words ("classname", "passenger", "spinner"), and not followed by a
 * describing word (see DESCRIBING).
 */
function keyMatcher(keys: readonly string[]): (key: string) => boolean {
  const long: string[] = [];
  const short: RegExp[] = [];
  for (const k of keys) {
    const n = normalizeKey(k);
    if (!n) continue;
    if (n.length >= 5) long.push(n);
    else short.push(new RegExp(`^${n}\\d*$`));
  }
  return (key) => {
    const n = normalizeKey(key);
    if (long.some((needle) => n.includes(needle))) return true;
    if (short.length === 0) return false;
    if (short.some((re) => re.test(n))) return true;
    const words = keyWords(key);
    return words.some((w, i) => short.some((re) => re.test(w)) && !DESCRIBING.has(words[i + 1] ?? ''));
  };
}

/**
 * `key: value`, `key=value` and quoted forms (`"key": "value"`, `'key': 'value'`, and JSON that
 * was itself put into a JSON string: `\"key\":\"value\"`). Group 1: the key's quote, 2: the key,
 * then the separator; the value is read by hand (readValue), since its end depends on its quote.
 */
const KEYED_RE = /(\\{0,3}["']?)([A-Za-z_][A-Za-z0-9_.-]{0,63})\1\s*[:=]\s*/g;

/** The end index of the value starting at `i`: a quoted string (its own escapes) or a bare word. */
function readValue(s: string, i: number): number {
  const m = /^(\\{0,3})(["'])/.exec(s.slice(i, i + 5));
  if (m) {
    const open = m[0];
    let j = i + open.length;
    if (open.length === 1) {
      // Plain quotes: backslash escapes a character.
      while (j < s.length && s[j] !== open) j += s[j] === '\\' ? 2 : 1;
      return Math.min(j + 1, s.length);
    }
    // Escaped quotes (JSON in a string): the value ends at the same escaped quote.
    const close = s.indexOf(open, j);
    return close === -1 ? s.length : close + open.length;
  }
  // A bare value; an object or array value is left to the keys inside it.
  const bare = /^[^\s"',;&{}[\]()]+/.exec(s.slice(i));
  return i + (bare?.[0].length ?? 0);
}

export interface Redactor {
  /** Returns a redacted copy of `details` and how many values were replaced. */
  details(details: Record<string, unknown>): { value: Record<string, unknown>; count: number };
  /** Redacts credential-, secret-key- and card-like values inside a free-text string. */
  text(s: string): { value: string; count: number };
  /** Redacts credential-like values only (log lines, where a long number is not a card). */
  tokens(s: string): { value: string; count: number };
}

/** Embedded JSON up to this size is parsed and walked; a larger one gets the text patterns only. */
const MAX_EMBEDDED_JSON = 64 * 1024;

/** Keys repeat from event to event (same producers, same shapes): remember the verdicts. */
const KEY_CACHE_MAX = 10_000;

export function createRedactor(keys: readonly string[] = DEFAULT_REDACT_KEYS): Redactor {
  const matches = keyMatcher(keys);
  const verdicts = new Map<string, boolean>();
  const sensitiveKey = (key: string) => {
    let v = verdicts.get(key);
    if (v === undefined) {
      v = matches(key);
      if (verdicts.size >= KEY_CACHE_MAX) verdicts.clear();
      verdicts.set(key, v);
    }
    return v;
  };
  // Cheap pre-check for scrubKeyed: some needle must occur in the squashed text.
  const needles = keys.map(normalizeKey).filter(Boolean);

  /** Replaces the values of secret-named keys inside a text. */
  const scrubKeyed = (s: string, counter: { n: number }): string => {
    if (s.length < 3 || (!s.includes(':') && !s.includes('='))) return s;
    const squashed = normalizeKey(s);
    if (!needles.some((n) => squashed.includes(n))) return s;
    let out = '';
    let last = 0;
    KEYED_RE.lastIndex = 0;
    for (let m = KEYED_RE.exec(s); m !== null; m = KEYED_RE.exec(s)) {
      const start = m.index + m[0].length;
      const end = readValue(s, start);
      const value = s.slice(start, end);
      if (end === start || !sensitiveKey(m[2]!) || value.replace(/^\\*["']/, '').startsWith(REDACTED)) {
        KEYED_RE.lastIndex = Math.max(KEYED_RE.lastIndex, m.index + 1);
        continue;
      }
      const quote = /^(\\{0,3}["'])/.exec(value)?.[1] ?? '';
      out += s.slice(last, start) + (quote ? `${quote}${REDACTED}${quote}` : REDACTED);
      counter.n++;
      last = end;
      KEYED_RE.lastIndex = end;
    }
    return last === 0 ? s : out + s.slice(last);
  };

  const scrubText = (s: string, counter: { n: number }, depth = 0): string => {
    // A JSON document put into a string field (a request body, a serialised payload) is redacted
    // as the JSON it is, keys included, and written back only when something was replaced.
    if (depth < MAX_DEPTH && s.length >= 2 && s.length <= MAX_EMBEDDED_JSON && /^\s*[[{]/.test(s) && /[}\]]\s*$/.test(s)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(s);
      } catch {
        parsed = undefined;
      }
      if (parsed !== null && typeof parsed === 'object') {
        const before = counter.n;
        const value = walk(parsed, depth + 1, counter);
        return counter.n === before ? s : JSON.stringify(value);
      }
    }
    return scrubCards(scrubKeyed(scrubTokens(s, counter), counter), counter);
  };

  const walk = (v: unknown, depth: number, counter: { n: number }): unknown => {
    if (typeof v === 'string') return scrubText(v, counter, depth);
    if (typeof v === 'number') {
      // A card number sent as a JSON number (an integer of 13-19 digits).
      if (Number.isInteger(v) && v >= 1e12 && v < 1e19) {
        const r = scrubCards(String(v), counter);
        return r === REDACTED ? REDACTED : v;
      }
      return v;
    }
    if (v === null || typeof v !== 'object') return v;
    if (depth >= MAX_DEPTH) {
      counter.n++;
      return REDACTED;
    }
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1, counter));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      // A credential used as a key is as much a leak as one used as a value.
      const key = scrubTokens(k, counter);
      let value: unknown;
      if (sensitiveKey(k)) {
        counter.n++;
        value = REDACTED;
      } else {
        value = walk(x, depth + 1, counter);
      }
      // Assigning "__proto__" would set the prototype: that one key is defined, not assigned.
      if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      else out[key] = value;
    }
    return out;
  };

  return {
    details(details) {
      const counter = { n: 0 };
      const value = walk(details, 0, counter) as Record<string, unknown>;
      return { value, count: counter.n };
    },
    text(s) {
      const counter = { n: 0 };
      const value = scrubText(s, counter);
      return { value, count: counter.n };
    },
    tokens(s) {
      const counter = { n: 0 };
      const value = scrubTokens(s, counter);
      return { value, count: counter.n };
    },
  };
}
