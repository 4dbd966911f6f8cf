// The redaction gaps an outside probe found (issue 16, item 3), each fed through the real API and
// read back from the real store: short secret keys (pwd, pass, auth, otp, pin, cvc, jwt...), a
// JSON document with a password inside a string, `password: x` in prose, `?auth=` in URLs, PGP
// private key blocks, JWTs and card numbers in every text field; and identifiers (user_id,
// resource_id, ip_address, user_agent) holding a JWT or a card number, which are refused (422
// naming the field) instead of stored half-redacted. Plus the look-alikes that must be kept.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedactor, REDACTED } from '../../src/ingest/redact.ts';
import { bodyOf, createTestService, event, type TestService } from '../support/service.ts';
import { attrs } from '../support/otlp.ts';

const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJib2IiLCJ0ZW5hbnRfaWQiOiJhY21lIn0.Zm9yZ2VkLXNpZ25hdHVyZS1ieXRlcw';
const CARDS = { plain: '4111111111111111', spaces: '4111 1111 1111 1111', dashes: '5500-0000-0000-0004', amex: '3782 822463 10005' };
const PGP = '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGX0pgp0secret0material0here\n=AbCd\n-----END PGP PRIVATE KEY BLOCK-----';

/** Secret values the stored row must never contain, whatever field they were posted in. */
const MARKERS = ['pw-0ne', 'pass-tw0', 'phrase-thr33', 'auth-f0ur', '918273', '4729', '802', 'jwt-s1x', 'bearer-s3ven', 'cred-e1ght',
  'embedded-n1ne', 'deep-t3n', 'prose-el3ven', 'form-tw3lve', 'url-auth-13', 'url-otp-14', 'lQOYBGX0pgp0secret', JWT, ...Object.values(CARDS)];

const r = createRedactor();

describe('redactor: the gaps', () => {
  it('redacts the short secret keys, whole words at any depth, dotted or nested', () => {
    const { value } = r.details({
      pwd: 'a', pass: 'b', passphrase: 'c', auth: 'd', otp: 'e', pin: 'f', cvc: 'g', jwt: 'h', bearer: 'i',
      credentials: { pass: 'j' }, 'credentials.pass': 'k', userPin: 'l', 'card-cvc': 'm', login: { otp_code: 'n' },
    });
    expect(value).toEqual({
      pwd: REDACTED, pass: REDACTED, passphrase: REDACTED, auth: REDACTED, otp: REDACTED, pin: REDACTED, cvc: REDACTED, jwt: REDACTED, bearer: REDACTED,
      credentials: { pass: REDACTED }, 'credentials.pass': REDACTED, userPin: REDACTED, 'card-cvc': REDACTED, login: { otp_code: REDACTED },
    });
  });

  it('redacts secret keys inside a JSON document held in a string, and writes the rest back unchanged', () => {
    const { value } = r.details({ body: '{"user":"bob","password":"hunter2","n":1}', deep: '{"a":[{"auth":{"x":1}}],"b":"ok"}', plain: '{"user":"bob"}' });
    expect(value).toEqual({ body: `{"user":"bob","password":"${REDACTED}","n":1}`, deep: `{"a":[{"auth":"${REDACTED}"}],"b":"ok"}`, plain: '{"user":"bob"}' });
    // JSON inside JSON inside a string, and JSON quoted inside prose.
    expect(r.text('payload {\\"password\\":\\"hunter2\\"} sent').value).toBe(`payload {\\"password\\":\\"${REDACTED}\\"} sent`);
    expect(r.text('request body was {"user":"bob","pwd":"hunter2"}').value).toBe(`request body was {"user":"bob","pwd":"${REDACTED}"}`);
  });

  it('redacts `password: x` and `password=x` in prose, and ?auth= and friends in URLs', () => {
    expect(r.text('login with password: hunter2 failed').value).toBe(`login with password: ${REDACTED} failed`);
    expect(r.text("retry with password='hunter 2' later").value).toBe(`retry with password='${REDACTED}' later`);
    expect(r.text('form sent user=bob&password=hunter2&next=/').value).toBe(`form sent user=bob&password=${REDACTED}&next=/`);
    expect(r.text('PIN: 4729 entered').value).toBe(`PIN: ${REDACTED} entered`);
    for (const key of ['auth', 'otp', 'pin', 'jwt', 'pass', 'pwd', 'passphrase']) {
      expect(r.text(`callback https://app.example/cb?${key}=s3cr3t&next=/home`).value, key).toBe(`callback https://app.example/cb?${key}=${REDACTED}&next=/home`);
    }
  });

  it('redacts PGP private key blocks, JWTs and card numbers (Luhn-checked, spaced or dashed) in any text', () => {
    expect(r.text(`key follows ${PGP} end`).value).toBe(`key follows ${REDACTED} end`);
    expect(r.text(`session ${JWT} expired`).value).toBe(`session ${REDACTED} expired`);
    for (const card of Object.values(CARDS)) expect(r.text(`paid with ${card} today`).value, card).toBe(`paid with ${REDACTED} today`);
  });

  it('keeps look-alikes: describing keys, words holding a needle, ids, versions, times, non-Luhn numbers', () => {
    const kept = {
      auth_method: 'saml', pin_attempts: 3, otp_sent_at: '2026-01-31T12:00:00Z', author: 'bob', passenger: 'p', spinner: true, compass: 'north',
      pass_count: 2, version: '1.2.3', id: '0192f0c1-6c2e-7cc0-8a1e-3f5b1d2c4e5f', epoch_ms: 1735689600000, order: '4111111111111112',
      phone: '+1 415 555 0100', window: '10:00-12:00', note: 'Password changed for bob', msg: 'The pin was reset: ok', header: 'Host: example.com',
      sha: 'd3b07384d113edec49eaa6238ad5ff00', iban_like: 'DE89 3704 0044 0532 0130 00', path: '/v1/passwords/reset?user=bob',
    };
    expect(r.details(kept)).toEqual({ value: kept, count: 0 });
  });
});

describe('end to end', () => {
  let t: TestService;
  beforeAll(async () => {
    t = await createTestService();
  });
  afterAll(async () => t?.close());

  /** The stored row as one text, straight from the table. */
  async function storedRow(id: string): Promise<string> {
    await t.services.writer.flush({ timeoutMs: 15_000, failOnError: true });
    const rows = await t.services.store.query<{ row: string }>(
      `SELECT concat(action, '|', description, '|', resource_type, '|', resource_id, '|', user_agent, '|', request_id, '|', details) AS row
         FROM ${t.services.store.table('audit_activities')} WHERE id = {id:UUID}`, { id },
    );
    return rows[0]!.row;
  }

  it('stores none of the secrets, in whatever text field they were posted', async () => {
    const res = await t.post(event({
      action: `checkout ${CARDS.dashes}`,
      resource_type: `invoice ${JWT}`,
      description: `login with password: prose-el3ven from https://app.example/cb?auth=url-auth-13&otp=url-otp-14 paid ${CARDS.spaces}, key ${PGP}`,
      details: {
        pwd: 'pw-0ne', pass: 'pass-tw0', passphrase: 'phrase-thr33', auth: 'auth-f0ur', otp: '918273', pin: '4729', cvc: '802', jwt: 'jwt-s1x', bearer: 'bearer-s3ven',
        credentials: { pass: 'cred-e1ght' },
        body: '{"user":"bob","password":"embedded-n1ne"}',
        nested: '{"login":{"passphrase":"deep-t3n"}}',
        form: 'user=bob&password=form-tw3lve',
        token_in_text: `copied ${JWT}`,
        cards: [CARDS.plain, CARDS.amex, Number(CARDS.plain)],
        keep: { filename: 'q3.pdf', auth_method: 'saml' },
      },
    }), { headers: { 'User-Agent': `probe/1 ${JWT}`, 'X-Request-Id': `req-${CARDS.plain}` } });
    expect(res.status).toBe(202);
    const [id] = (await res.json()).ids;
    const row = await storedRow(id!);
    for (const m of MARKERS) expect(row, m.slice(0, 24)).not.toContain(m);
    expect(row).toContain('q3.pdf');
    expect(row).toContain('"auth_method":"saml"');
    expect(row).toContain('checkout [REDACTED]');
    expect(row).toContain('probe/1 [REDACTED]');
  });

  const IDENTIFIERS = ['user_id', 'resource_id', 'ip_address', 'user_agent'] as const;
  const HELD = { 'a JWT': JWT, 'a card number': CARDS.plain, 'a spaced card number': CARDS.spaces, 'a dashed card number': CARDS.dashes, 'a card number in an id': `order-${CARDS.plain}` };

  for (const field of IDENTIFIERS) {
    it(`refuses ${field} holding a JWT or a card number with 422 naming ${field}, storing nothing, echoing nothing`, async () => {
      const before = await t.count();
      for (const [what, value] of Object.entries(HELD)) {
        const res = await t.post(event({ [field]: value }));
        expect(res.status, `${field}: ${what}`).toBe(422);
        const text = await res.text();
        expect(text, `${field}: ${what}`).not.toContain(value);
        const problem = JSON.parse(text) as { errors: Array<{ index: number; field: string; message: string }> };
        // (A JWT is also longer than an ip_address may be: that is reported too, on the same field.)
        expect(problem.errors.every((e) => e.field === field), `${field}: ${what}`).toBe(true);
        expect(problem.errors, `${field}: ${what}`).toEqual(expect.arrayContaining([expect.objectContaining({ index: 0, field, message: expect.stringMatching(/identifiers must not carry secrets/) })]));
      }
      expect(await t.count()).toBe(before);
    });
  }

  it('keeps ordinary identifiers (emails, numeric ids that are no card, IPv6, browser agents)', async () => {
    const res = await t.post([
      event({ user_id: 'user-42@tenant-0001.example', resource_id: '4111111111111112', ip_address: '2001:db8::1', user_agent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' }),
      event({ user_id: '1735689600000', resource_id: 'invoice_9f86d081884c', ip_address: '203.0.113.9', user_agent: 'acme-sdk-node/2.3.1 node/20.15.0' }),
    ]);
    expect(res.status).toBe(202);
  });

  it('with ?partial=true refuses just that event, by index and field', async () => {
    const before = await t.count();
    const token = await t.token();
    const res = await t.app.request('/api/v1/audit/activities?partial=true', {
      method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify([event(), event({ resource_id: CARDS.spaces }), event({ user_id: JWT })]),
    });
    expect(res.status).toBe(202);
    const body = await bodyOf(res, 'post', '/api/v1/audit/activities?partial=true');
    expect(body.accepted).toBe(1);
    expect(body.rejected).toEqual([expect.objectContaining({ index: 1, field: 'resource_id' }), expect.objectContaining({ index: 2, field: 'user_id' })]);
    expect(await t.count()).toBe(before + 1);
  });

  it('OTLP: a record whose user.id holds a JWT is refused (naming user_id), its secrets in attributes are redacted', async () => {
    const before = await t.count();
    const token = await t.token();
    const ns = String(BigInt(Date.now() - 1_000) * 1_000_000n);
    const res = await t.app.request('/v1/logs', {
      method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ resourceLogs: [{ resource: { attributes: [] }, scopeLogs: [{ scope: {}, logRecords: [
        { timeUnixNano: ns, eventName: 'user.login', attributes: attrs({ 'audit.action': 'login', 'user.id': JWT }) },
        { timeUnixNano: ns, eventName: 'user.login', body: { stringValue: `otp=url-otp-14 card ${CARDS.dashes}` }, attributes: attrs({ 'audit.action': 'login', pin: '4729', payload: '{"password":"embedded-n1ne"}' }) },
      ] }] }] }),
    });
    expect(res.status).toBe(200);
    const answer = await bodyOf(res, 'post', '/v1/logs');
    expect(answer.partialSuccess?.rejectedLogRecords).toBe('1');
    expect(answer.partialSuccess?.errorMessage).toMatch(/logRecords\[0\]: attribute user\.id \(user_id\) holds a JWT/);
    expect(answer.partialSuccess?.errorMessage).not.toContain(JWT);
    expect(await t.count()).toBe(before + 1);
    const rows = await t.services.store.query<{ row: string }>(
      `SELECT concat(description, '|', user_id, '|', details) AS row FROM ${t.services.store.table('audit_activities')} ORDER BY received_at DESC LIMIT 1`,
    );
    for (const m of ['url-otp-14', CARDS.dashes, '4729', 'embedded-n1ne', JWT]) expect(rows[0]!.row).not.toContain(m);
  });
});
