// Secrets never reach storage: keys in `details` that name a secret (at any depth, arrays
// included) have their value replaced, and values that look like credentials (JWTs, bearer/basic
// credentials, well-known API key formats, private keys, passwords in URLs) or Luhn-valid card
// numbers are replaced wherever they sit in free text.
export const REDACTED = '[REDACTED]';

export const DEFAULT_REDACT_KEYS = [
  'password', 'passwd', 'secret', 'token', 'api_key', 'apikey', 'authorization', 'cookie',
  'session', 'private_key', 'credit_card', 'card_number', 'cvv', 'ssn',
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
 * A key is sensitive when it contains a needle. Long needles (password, token, secret...) match
 * anywhere in the normalized key ("refreshtoken", "x-api-key", "db_password_hash"): erring on
 * the side of hiding. Short needles (ssn, cvv) must be a whole word, optionally followed by
 * digits ("card_cvv", "cvv2", "SSN"), because as substrings they sit inside innocent words
 * ("classname", "business_name").
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
    return keyWords(key).some((w) => short.some((re) => re.test(w))) || short.some((re) => re.test(n));
  };
}

/** Credential-shaped substrings, replaced wherever they appear. */
const TOKEN_PATTERNS: RegExp[] = [
  // JWS/JWE compact form: a base64url JSON header ("eyJ") and two to four more segments.
  /\beyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){2,4}/g,
  // Authorization-style credentials. Random credentials are long or hold digits, which keeps
  // prose like "Token verification failed" intact.
  /\b(?:Bearer|Basic|Token|Digest)\s+(?=[A-Za-z0-9._~+/-]*\d|[A-Za-z0-9._~+/-]{16})[A-Za-z0-9._~+/-]{8,}=*/gi,
  // Well-known API key formats: AWS access key ids, GitHub, GitLab, Slack, Stripe, Google.
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g,
  /\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}\b/g,
  /\bglpat-[A-Za-z0-9_-]{20,}\b/g,
  /\bxox[abprs]-[A-Za-z0-9-]{10,}\b/g,
  /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b/g,
  /\bAIza[0-9A-Za-z_-]{35}\b/g,
  // PEM private keys, whole block (or up to the end of the text when truncated).
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g,
];
/** The password part of credentials in a URL: scheme://user:PASSWORD@host. */
const URL_PASSWORD_RE = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)([^\s@/]+)@/gi;
/** Credentials in a query string or form body: ?access_token=..., &password=..., &sig=... */
const QUERY_SECRET_RE = /([?&;](?:access_token|refresh_token|id_token|token|api_key|apikey|key|password|passwd|pwd|secret|client_secret|sig|signature|code)=)[^&\s#"']+/gi;
/**
 * Payment card numbers: 13 to 19 digits, optionally grouped by single spaces or dashes, starting
 * with a major-network digit (2-6). Epoch-millisecond timestamps (13 digits starting with 1) and
 * other ids would otherwise be Luhn-valid one time in ten.
 */
const CARD_RE = /(?<![\d.])[2-6](?:[ -]?\d){12,18}(?![\d])/g;

export function luhnValid(digits: string): boolean {
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
  /** Redacts credential- and card-like values inside a free-text string. */
  text(s: string): { value: string; count: number };
  /** Redacts credential-like values only (for identifiers, where a long number is not a card). */
  tokens(s: string): { value: string; count: number };
}

/**
 * One cheap scan that every credential pattern implies (a marker or a scheme), so the common
 * string (a file name, a sentence) is checked once instead of against every pattern.
 */
const MAY_HOLD_CREDENTIAL = /eyJ|bearer|basic|token|digest|AKIA|ASIA|gh[pousr]_|github_pat_|glpat-|xox[abprs]-|_(?:live|test)_|AIza|PRIVATE KEY|:\/\/|[?&;][a-z_]+=/i;

function scrubTokens(s: string, counter: { n: number }): string {
  if (s.length < 8 || !MAY_HOLD_CREDENTIAL.test(s)) return s;
  const hit = () => {
    counter.n++;
    return REDACTED;
  };
  let value = s;
  for (const re of TOKEN_PATTERNS) value = value.replace(re, hit);
  value = value.replace(URL_PASSWORD_RE, (_m, prefix: string) => {
    counter.n++;
    return `${prefix}${REDACTED}@`;
  });
  return value.replace(QUERY_SECRET_RE, (m, prefix: string) => {
    if (m.slice(prefix.length) === REDACTED) return m; // already replaced by a pattern above
    counter.n++;
    return `${prefix}${REDACTED}`;
  });
}

function scrubCards(s: string, counter: { n: number }): string {
  if (s.length < 13) return s;
  return s.replace(CARD_RE, (m) => {
    if (!luhnValid(m.replace(/[ -]/g, ''))) return m;
    counter.n++;
    return REDACTED;
  });
}

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

  const text = (s: string) => {
    const counter = { n: 0 };
    const value = scrubCards(scrubTokens(s, counter), counter);
    return { value, count: counter.n };
  };

  const walk = (v: unknown, depth: number, counter: { n: number }): unknown => {
    if (typeof v === 'string') return scrubCards(scrubTokens(v, counter), counter);
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
    text,
    tokens(s) {
      const counter = { n: 0 };
      const value = scrubTokens(s, counter);
      return { value, count: counter.n };
    },
  };
}
