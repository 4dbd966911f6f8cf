// Serialising exported events. Whatever the stored text holds, a line of output is one event:
// NDJSON relies on JSON escaping (plus U+2028/U+2029, which some JSON-lines readers split on);
// CSV quotes every field, doubles quotes, replaces stray control characters, and neutralises
// spreadsheet formulas (OWASP "CSV injection": a leading =, +, -, @, tab, CR or LF makes Excel,
// LibreOffice or Sheets evaluate the cell, so such a field gets a leading apostrophe).
import type { AuditEvent } from '../event/model.ts';

export type ExportFormat = 'ndjson' | 'csv';

export const CSV_COLUMNS = [
  'id', 'timestamp', 'received_at', 'tenant_id', 'activity_type', 'severity', 'action', 'outcome',
  'user_id', 'resource_type', 'resource_id', 'description', 'ip_address', 'user_agent', 'request_id', 'details',
] as const satisfies readonly (keyof AuditEvent)[];

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
};

const LINE_SEPARATORS = /[\u2028\u2029]/g;

/** JSON text on one line: JSON.stringify escapes C0 controls; we add U+2028/U+2029. */
const jsonLine = (v: unknown) => JSON.stringify(v).replace(LINE_SEPARATORS, (ch) => (ch === '\u2028' ? '\\u2028' : '\\u2029'));

export function ndjsonLines(events: readonly AuditEvent[]): string {
  let out = '';
  for (const e of events) out += jsonLine(e) + '\n';
  return out;
}

const FORMULA_START = /^[=+\-@\t\r\n]/;
// C0 controls other than tab, LF and CR, DEL, and the Unicode line separators.
const STRAY_CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\u2028\u2029]/g;

/** One CSV field: control characters replaced, formulas neutralised, always quoted. */
export function csvField(value: string): string {
  let v = value.replace(STRAY_CONTROL, '\uFFFD');
  if (FORMULA_START.test(v)) v = `'${v}`;
  return `"${v.replace(/"/g, '""')}"`;
}

export function csvHeader(): string {
  return CSV_COLUMNS.join(',') + '\r\n';
}

export function csvLines(events: readonly AuditEvent[]): string {
  let out = '';
  for (const e of events) {
    out += CSV_COLUMNS.map((col) => csvField(col === 'details' ? jsonLine(e.details) : String(e[col] ?? ''))).join(',') + '\r\n';
  }
  return out;
}
