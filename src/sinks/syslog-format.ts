// Syslog messages for the syslog sink: RFC 5424 headers around either a CEF record (ArcSight
// Common Event Format, as SIEMs parse it) or the native event as JSON, each framed by RFC 6587
// octet counting ("<length> <message>"), so a message may hold any byte, newlines included.
import os from 'node:os';
import type { AuditEvent } from '../event/model.ts';
import { isIP } from 'node:net';
import { PRODUCT_VERSION } from './ocsf.ts';

/** facility 13 = log audit (RFC 5424 §6.2.1). */
const FACILITY = 13;
const SYSLOG_SEVERITY: Record<string, number> = { LOW: 6, MEDIUM: 5, HIGH: 4, CRITICAL: 2 };
const CEF_SEVERITY: Record<string, number> = { LOW: 3, MEDIUM: 5, HIGH: 8, CRITICAL: 10 };

/** CEF header fields: backslash and pipe escaped, no line breaks. */
export const cefHeader = (s: string) => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');
/** CEF extension values: backslash and equals escaped, line breaks as \n and \r. */
export const cefValue = (s: string) => s.replace(/\\/g, '\\\\').replace(/=/g, '\\=').replace(/\n/g, '\\n').replace(/\r/g, '\\r');

export function toCef(e: AuditEvent): string {
  const ext: Array<[string, string]> = [
    ['externalId', e.id],
    ['rt', String(Date.parse(e.timestamp))],
    ['act', e.action],
    ['outcome', e.outcome],
  ];
  if (e.user_id) ext.push(['suser', e.user_id]);
  if (e.ip_address && isIP(e.ip_address)) ext.push(['src', e.ip_address]);
  if (e.user_agent) ext.push(['requestClientApplication', e.user_agent]);
  if (e.description) ext.push(['msg', e.description]);
  const custom: Array<[string, string]> = [['tenant', e.tenant_id], ['resourceType', e.resource_type], ['resourceId', e.resource_id], ['requestId', e.request_id]];
  custom.forEach(([label, value], i) => {
    if (value) ext.push([`cs${i + 1}`, value], [`cs${i + 1}Label`, label]);
  });
  if (Object.keys(e.details).length > 0) ext.push(['cs5', JSON.stringify(e.details)], ['cs5Label', 'details']);
  const name = e.description || e.action;
  const header = ['CEF:0', 'audithouse', 'audithouse', PRODUCT_VERSION, e.activity_type, name, String(CEF_SEVERITY[e.severity] ?? 0)].map(cefHeader);
  return `${header.join('|')}|${ext.map(([k, v]) => `${k}=${cefValue(v)}`).join(' ')}`;
}

const HOST = os.hostname().replace(/[^\x21-\x7e]/g, '').slice(0, 255) || '-';

/** One RFC 5424 message: <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG (MSGID: the activity type). */
export function toSyslog5424(e: AuditEvent, format: 'cef' | 'json'): string {
  const pri = FACILITY * 8 + (SYSLOG_SEVERITY[e.severity] ?? 6);
  const msgId = e.activity_type.replace(/[^\x21-\x7e]/g, '').slice(0, 32) || '-';
  const msg = format === 'cef' ? toCef(e) : JSON.stringify(e);
  return `<${pri}>1 ${e.timestamp} ${HOST} audithouse - ${msgId} - ${msg}`;
}

/** RFC 6587 §3.4.1 octet counting: the message's length in bytes, a space, the message. */
export function octetFrame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `), body]);
}
