import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvField } from '../../src/query/export-format.ts';
import { createTestService, event, type TestService } from '../support/service.ts';

let t: TestService;
const base = Date.parse('2026-01-10T00:00:00.000Z');
const at = (i: number) => new Date(base + i * 60_000).toISOString();

beforeAll(async () => {
  t = await createTestService();
  const events = Array.from({ length: 30 }, (_, i) =>
    event({ timestamp: at(i), description: `row ${i}`, severity: i % 3 === 0 ? 'HIGH' : 'LOW', user_id: i % 2 ? 'odd' : 'even' }));
  expect((await t.post(events)).status).toBe(202);
  const hostile = [
    event({ timestamp: at(100), description: '=HYPERLINK("http://evil.example","click")', action: '+cmd', resource_id: '@SUM(A1)', user_id: '-2+3' }),
    event({ timestamp: at(101), description: '\tleading tab' }),
    event({ timestamp: at(102), description: 'line one\nline two, "quoted", and\r\ncarriage', details: { nul: 'a\u0000b', bell: '\u0007', ls: 'x\u2028y', formula: '=1+1', nested: { list: ['-1', '@x'] } } }),
  ];
  expect((await t.post(hostile)).status).toBe(202);
});
afterAll(async () => t.close());

async function exportText(query: string, token?: string): Promise<{ res: Response; text: string }> {
  const res = await t.get(`/api/v1/audit/export${query}`, token ? { token } : {});
  return { res, text: await res.text() };
}

/** A minimal RFC 4180 parser: fields always quoted by the exporter. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        if (text[i] === '"' && text[i + 1] === '"') { v += '"'; i += 2; continue; }
        if (text[i] === '"') { i++; break; }
        v += text[i++];
      }
      row.push(v);
    } else {
      let v = '';
      while (i < text.length && text[i] !== ',' && text[i] !== '\r') v += text[i++];
      row.push(v);
    }
    if (text[i] === ',') { i++; continue; }
    if (text[i] === '\r' && text[i + 1] === '\n') { rows.push(row); row = []; i += 2; continue; }
    if (i >= text.length) break;
    throw new Error(`unexpected character at ${i}: ${JSON.stringify(text[i])}`);
  }
  if (row.length) rows.push(row);
  return rows;
}

describe('GET /api/v1/audit/export', () => {
  it('streams NDJSON newest first, one valid JSON event per line, same shape as the list', async () => {
    const { res, text } = await exportText('');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const lines = text.split('\n');
    expect(lines.at(-1)).toBe('');
    const events = lines.slice(0, -1).map((l) => JSON.parse(l) as { id: string; timestamp: string; description: string; details: unknown });
    expect(events).toHaveLength(33);
    const stamps = events.map((e) => Date.parse(e.timestamp));
    expect([...stamps].sort((a, b) => b - a)).toEqual(stamps);
    const list = await (await t.get('/api/v1/audit/activities?limit=1000')).json();
    expect(events).toEqual(list.data);
  });

  it('applies the list filters and limit', async () => {
    const { text } = await exportText('?severity=HIGH&user_id=even&limit=3');
    const events = text.trim().split('\n').map((l) => JSON.parse(l) as { severity: string; user_id: string; description: string });
    expect(events.map((e) => e.description)).toEqual(['row 24', 'row 18', 'row 12']);
    const since = await exportText(`?since=${encodeURIComponent(at(25))}&until=${encodeURIComponent(at(28))}`);
    expect(since.text.trim().split('\n').map((l) => (JSON.parse(l) as { description: string }).description)).toEqual(['row 27', 'row 26', 'row 25']);
  });

  it('control characters never break a NDJSON line', async () => {
    const { text } = await exportText('?q=line%20one');
    const lines = text.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(text).not.toContain('\u2028');
    const e = JSON.parse(lines[0]!) as { description: string; details: Record<string, unknown> };
    expect(e.description).toBe('line one\nline two, "quoted", and\r\ncarriage');
    expect(e.details).toMatchObject({ nul: 'a\u0000b', bell: '\u0007', ls: 'x\u2028y' });
  });

  it('CSV: header, every field quoted, formulas neutralised, controls cannot break rows', async () => {
    const { res, text } = await exportText('?format=csv');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toContain('attachment');
    const rows = parseCsv(text);
    expect(rows[0]).toEqual(['id', 'timestamp', 'received_at', 'tenant_id', 'activity_type', 'severity', 'action', 'outcome', 'user_id',
      'resource_type', 'resource_id', 'description', 'ip_address', 'user_agent', 'request_id', 'details']);
    expect(rows).toHaveLength(34);
    for (const r of rows) expect(r).toHaveLength(16);
    const col = (name: string) => rows[0]!.indexOf(name);
    // No field, anywhere, starts with a formula trigger.
    for (const r of rows.slice(1)) for (const f of r) expect(f).not.toMatch(/^[=+\-@\t\r]/);
    const byDesc = (d: string) => rows.find((r) => r[col('description')]!.includes(d))!;
    const evil = byDesc('HYPERLINK');
    expect(evil[col('description')]).toBe(`'=HYPERLINK("http://evil.example","click")`);
    expect(evil[col('action')]).toBe("'+cmd");
    expect(evil[col('resource_id')]).toBe("'@SUM(A1)");
    expect(evil[col('user_id')]).toBe("'-2+3");
    expect(byDesc('leading tab')[col('description')]).toBe("'\tleading tab");
    const multi = byDesc('line one');
    expect(multi[col('description')]).toBe('line one\nline two, "quoted", and\r\ncarriage');
    const details = JSON.parse(multi[col('details')]!) as Record<string, unknown>;
    expect(details).toMatchObject({ nul: 'a\u0000b', bell: '\u0007', ls: 'x\u2028y', formula: '=1+1' });
    expect(text).not.toMatch(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\u2028\u2029]/);
  });

  it('csvField neutralises every formula prefix and replaces stray control characters', () => {
    for (const p of ['=', '+', '-', '@', '\t', '\r', '\n']) expect(csvField(`${p}1`)).toBe(`"'${p}1"`);
    expect(csvField('a"b')).toBe('"a""b"');
    expect(csvField('a\u0000b\u001bc')).toBe('"a\uFFFDb\uFFFDc"');
    expect(csvField('plain')).toBe('"plain"');
  });

  it('refuses bad parameters with problem+json', async () => {
    for (const q of ['?format=xml', '?limit=0', '?severity=NOPE', '?since=yesterday']) {
      const { res, text } = await exportText(q);
      expect(res.status, q).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(JSON.parse(text)).toMatchObject({ status: 400 });
    }
  });

  it('streams in chunks; a client that leaves after two chunks stops the export, audited as incomplete with the rows sent', async () => {
    // A service of its own with the access log on: the export's audit.accessed event reports the
    // rows actually sent, which shows whether the server pulled the whole result up front.
    const s = await createTestService({ AUDIT_ACCESS_LOG_ENABLED: 'true' });
    try {
      const total = 20_000;
      for (let i = 0; i < total; i += 5000) {
        const batch = Array.from({ length: 5000 }, (_, j) => event({ timestamp: at(200 + i + j), description: `bulk ${i + j} ${'x'.repeat(200)}`, activity_type: 'bulk.row' }));
        expect((await s.post(batch)).status).toBe(202);
      }
      const full = await s.get('/api/v1/audit/export?activity_type=bulk.row');
      const reader = full.body!.getReader();
      let bytes = 0;
      let chunks = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.byteLength;
        chunks++;
      }
      expect(bytes).toBeGreaterThan(total * 200);
      expect(chunks).toBeGreaterThan(2);

      const partial = await s.get('/api/v1/audit/export?activity_type=bulk.row&format=csv');
      const r2 = partial.body!.getReader();
      await r2.read();
      await r2.read();
      await r2.cancel();
      await s.services.accessLog!.flush();
      await s.services.writer.flush();
      // details: the access record's fields, free-form JSON in the event schema (a record of
      // unknown values there), so only they are given the access record's shape.
      type AccessDetails = { filters: Record<string, string>; row_count: number; completed?: boolean };
      const accessed = (await (await s.get('/api/v1/audit/activities?activity_type=audit.accessed&limit=10')).json()).data
        .map((e) => ({ ...e, details: e.details as AccessDetails }));
      const cut = accessed.find((e) => e.details.filters.format === 'csv')!;
      expect(cut.details.completed).toBe(false);
      expect(cut.details.row_count).toBeGreaterThan(0);
      expect(cut.details.row_count).toBeLessThan(total);
      const done = accessed.find((e) => e.details.filters.format === undefined && e.details.filters.activity_type === 'bulk.row')!;
      expect(done.details.row_count).toBe(total);
      expect(done.details.completed).toBeUndefined();
    } finally {
      await s.close();
    }
  });

  it('a client that goes away mid-stream leaves the service answering', async () => {
    const res = await t.get('/api/v1/audit/export?format=csv');
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    expect((await t.get('/api/v1/audit/export?limit=1')).status).toBe(200);
  });
});
