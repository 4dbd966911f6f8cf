// Issue 16, item 7: a 500 must be diagnosable from the log alone (error class, ClickHouse code,
// message, stack, route and method), and still carry no event value, filter value or token. The
// failures are real ones from the embedded engine: a CHECK constraint that refuses an event (its
// message quotes the row), and a column whose type no longer matches a filter (it quotes the filter).
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { valueFreeMessage } from '../../src/log-redact.ts';
import { createTestService, event, type TestService } from '../support/service.ts';

const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});
const SECRET_VALUE = 'probe-secret-value-5f1c';
const SECRET_FILTER = 'probe-secret-filter-9a2e';

let t: TestService;
let token: string;
beforeAll(async () => {
  // No spool: a write is answered only once stored, so the store's refusal reaches the response.
  t = await createTestService({ AUDIT_SPOOL_MAX_BYTES: '0' }, { log: createLogger({ level: 'debug', destination: sink }) });
  token = await t.token();
});
afterAll(async () => t.close());

interface LogLine {
  level: string;
  msg: string;
  request_id?: string;
  method?: string;
  route?: string;
  error?: { type: string; class: string; code?: string; retryable: boolean; message: string; stack: string; cause?: { class: string; code?: string } };
}
const parsed = () => lines.map((l) => JSON.parse(l) as LogLine);

describe('an unexpected 500', () => {
  it('from a refused insert logs class, ClickHouse code, message, stack and route, but not the event', async () => {
    await t.services.store.command(
      `ALTER TABLE ${t.services.store.table('audit_activities')} ADD CONSTRAINT no_probe CHECK description != '${SECRET_VALUE}'`,
    );
    lines.length = 0;
    const res = await t.post(event({ description: SECRET_VALUE, user_id: SECRET_VALUE }), { headers: { 'X-Request-Id': 'req-500-insert' } });
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(body).toContain('req-500-insert');
    expect(body).not.toContain(SECRET_VALUE);

    const line = parsed().find((l) => l.msg === 'unhandled error');
    expect(line).toMatchObject({
      level: 'error', request_id: 'req-500-insert', method: 'POST', route: '/api/v1/audit/activities',
      error: { type: 'InsertError', class: 'InsertError', code: '469', retryable: false },
    });
    expect(line!.error!.message).toMatch(/Constraint `no_probe` .* is violated/);
    expect(line!.error!.stack).toMatch(/^InsertError: Constraint/);
    expect(line!.error!.stack).toMatch(/\n\s+at .*src\/store\//);
    // Nowhere in any line: not the 500's, not the writer's, not the request line.
    expect(lines.join('\n')).not.toContain(SECRET_VALUE);
    await t.services.store.command(`ALTER TABLE ${t.services.store.table('audit_activities')} DROP CONSTRAINT no_probe`);
    expect(await t.count()).toBe(0);
  });

  it('from a failing read logs the code and route, but not the filter value', async () => {
    const table = t.services.store.table('audit_activities');
    await t.services.store.command(`ALTER TABLE ${table} MODIFY COLUMN resource_id UInt64`);
    lines.length = 0;
    try {
      const res = await t.get(`/api/v1/audit/activities?resource_id=${SECRET_FILTER}`, { token });
      expect(res.status).toBe(500);
      expect(await res.text()).not.toContain(SECRET_FILTER);
    } finally {
      await t.services.store.command(`ALTER TABLE ${table} MODIFY COLUMN resource_id String`);
    }
    const line = parsed().find((l) => l.msg === 'unhandled error');
    expect(line).toMatchObject({ level: 'error', method: 'GET', route: '/api/v1/audit/activities', error: { class: 'QueryError', retryable: false } });
    expect(line!.error!.code).toMatch(/^\d+$/);
    expect(line!.error!.stack).toMatch(/\n\s+at /);
    expect(lines.join('\n')).not.toContain(SECRET_FILTER);
  });
});

describe('valueFreeMessage', () => {
  it('takes out quoted values and row dumps, keeps identifiers and the shape', () => {
    expect(valueFreeMessage("Cannot parse string 'alice@example.com' as UInt32: syntax error")).toBe("Cannot parse string '?' as UInt32: syntax error");
    expect(valueFreeMessage("Constraint `c` for table `db`.`t` is violated at row 1. Expression: (a != 'x'). Column values: a = 'x', b = 42."))
      .toBe("Constraint `c` for table `db`.`t` is violated at row 1. Expression: (a != '?'). Column values: [omitted]");
    expect(valueFreeMessage('Unexpected token \'a\', "abc {\\"pw\\": 1}" is not valid JSON')).toBe("Unexpected token '?', \"?\" is not valid JSON");
    expect(valueFreeMessage("value 'o\\'neil, secret' and 'o''hara, secret'")).toBe("value '?' and '?'");
    expect(valueFreeMessage(`auth failed for Bearer ${'a'.repeat(40)}`)).not.toContain('a'.repeat(40));
  });
});
