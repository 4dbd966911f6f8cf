// What a credential or a payment card number looks like inside a string, whatever field it sits
// in. Shared by the redactor (replaces what it finds in free text) and by the event schema
// (refuses an identifier field that holds one: an id cannot be half-redacted and still name
// something). Pure functions, no configuration: the configurable part (secret key names) lives in
// src/ingest/redact.ts.
export const REDACTED = '[REDACTED]';

/** Credential-shaped substrings, replaced wherever they appear. */
export const TOKEN_PATTERNS: RegExp[] = [
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
  // PEM private keys and PGP private key blocks, whole (or up to the end of a truncated text).
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)/g,
];

/** The password part of credentials in a URL: scheme://user:PASSWORD@host. */
export const URL_PASSWORD_RE = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)([^\s@/]+)@/gi;

/** Credentials in a query string or form body: ?access_token=..., &password=..., &auth=... */
export const QUERY_SECRET_RE =
  /([?&;](?:access_token|refresh_token|id_token|token|jwt|auth|api_key|apikey|key|password|passwd|passphrase|pass|pwd|secret|client_secret|otp|pin|sig|signature|code)=)[^&\s#"']+/gi;

/**
 * One cheap scan that every pattern above implies (a marker or a scheme), so the common string
 * (a file name, a sentence) is checked once instead of against every pattern.
 */
export const MAY_HOLD_CREDENTIAL = /eyJ|bearer|basic|token|digest|AKIA|ASIA|gh[pousr]_|github_pat_|glpat-|xox[abprs]-|_(?:live|test)_|AIza|PRIVATE KEY|:\/\/|[?&;][a-z_]+=/i;

/**
 * Payment card candidates: 13 to 19 digits in one run, or grouped the way cards are printed
 * (4-4-4-4[-1..3], 4-6-5, 4-6-4) by single spaces or dashes, never touching a letter, digit or
 * dot. Runs inside hex ids, UUIDs, versions and decimals are therefore never candidates.
 */
export const CARD_RE = /(?<![\w.])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1?\d{1,3})?|\d{4}([ -])\d{6}\2\d{4,5})(?![\w]|\.\d)/g;

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

/**
 * A number a card network issues: the network's prefix (IIN range) with one of its lengths, and
 * a valid Luhn check digit. Epoch-millisecond timestamps (13 digits starting with 1) and most
 * numeric ids fail the prefix test; of the rest, nine in ten fail Luhn.
 */
export function isCardNumber(digits: string): boolean {
  const n = digits.length;
  if (n < 13 || n > 19 || !/^\d+$/.test(digits)) return false;
  const p = (k: number) => Number(digits.slice(0, k));
  let lengthOk: boolean;
  if (digits[0] === '4') lengthOk = n === 13 || n === 16 || n === 19; // Visa
  else if ((p(2) >= 51 && p(2) <= 55) || (p(4) >= 2221 && p(4) <= 2720)) lengthOk = n === 16; // Mastercard
  else if (p(2) === 34 || p(2) === 37) lengthOk = n === 15; // American Express
  else if (p(4) >= 3528 && p(4) <= 3589) lengthOk = n >= 16; // JCB
  else if (p(2) === 36 || p(2) === 38 || p(2) === 39 || (p(3) >= 300 && p(3) <= 305)) lengthOk = n >= 14; // Diners
  else if (p(2) === 50 || (p(2) >= 56 && p(2) <= 69)) lengthOk = true; // Maestro, Discover, UnionPay, RuPay
  else lengthOk = false;
  return lengthOk && luhnValid(digits);
}

/** Replaces card numbers in `s`, counting each. */
export function scrubCards(s: string, counter: { n: number }): string {
  if (s.length < 13) return s;
  return s.replace(CARD_RE, (m) => {
    if (!isCardNumber(m.replace(/[ -]/g, ''))) return m;
    counter.n++;
    return REDACTED;
  });
}

/** Replaces credential-shaped values (not card numbers) in `s`, counting each. */
export function scrubTokens(s: string, counter: { n: number }): string {
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

/**
 * What kind of secret an identifier holds, if any ("a JWT", "a payment card number", ...), for
 * a refusal that says why without echoing the value.
 */
export function credentialIn(s: string): string | undefined {
  if (s.length < 8) return undefined;
  const counter = { n: 0 };
  if (/\beyJ[A-Za-z0-9_-]{8,}\./.test(s) && scrubTokens(s, counter) !== s) return 'a JWT';
  if (scrubTokens(s, counter) !== s) return 'a credential (token, key or password)';
  if (scrubCards(s, counter) !== s) return 'a payment card number';
  return undefined;
}
