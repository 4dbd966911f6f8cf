// The pieces of the sinks that need no running service: the sinks file (YAML/JSON, ${VAR},
// secrets never in a message), CEF escaping and RFC 5424/6587 framing, the OCSF class table,
// backoff and Retry-After.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import type { AuditEvent } from '../../src/event/model.ts';
import { toOcsf } from '../../src/sinks/ocsf.ts';
import { cefValue, octetFrame, toCef, toSyslog5424 } from '../../src/sinks/syslog-format.ts';
import { hecUrl, httpBody, parseRetryAfter } from '../../src/sinks/transport.ts';
import { backoffMs, matcher } from '../../src/sinks/worker.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audithouse-sinkcfg-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
};
const load = (file: string, env: Record<string, string> = {}) => loadConfig({ AUDIT_SINKS_FILE: file, ...env }).sinks;
const problems = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('no ConfigError');
};

const event = (over: Partial<AuditEvent> = {}): AuditEvent => ({
  id: '0192f0c1-6c2e-7cc0-8a1e-3f5b1d2c4e5f', timestamp: '2026-01-31T12:00:00.000Z', received_at: '2026-01-31T12:00:00.250Z',
  activity_type: 'user.login', severity: 'HIGH', action: 'login', description: 'Signed in', outcome: 'success', user_id: 'alice',
  tenant_id: 'acme', resource_type: '', resource_id: '', ip_address: '203.0.113.9', user_agent: 'curl/8', request_id: 'req-1', details: {},
  ...over,
});

describe('AUDIT_SINKS_FILE', () => {
  it('reads YAML and JSON, expands ${VAR} after parsing, and applies defaults', () => {
    const yaml = write('s.yaml', 'sinks:\n  - name: siem\n    type: webhook\n    url: https://siem.example/ingest\n    headers: { Authorization: "Bearer ${T}" }\n    filter: { tenants: [acme], min_severity: MEDIUM, activity_types: ["user.*"] }\n  - name: soc\n    type: syslog\n    url: tls://soc.example:6514\n');
    const [siem, soc] = load(yaml, { T: 'a"b: c' }); // a value YAML would choke on, harmless after parsing
    expect(siem).toMatchObject({ name: 'siem', format: 'ocsf', headers: { Authorization: 'Bearer a"b: c' }, batch: { maxEvents: 500, maxWaitMs: 1000 }, start: 'now' });
    expect(soc).toMatchObject({ type: 'syslog', format: 'cef' });
    const json = write('s.json', JSON.stringify({ sinks: [{ name: 'hec', type: 'splunk-hec', url: 'https://splunk.example:8088', token: '${HEC}', format: 'ocsf' }] }));
    expect(load(json, { HEC: 'tok' })[0]).toMatchObject({ token: 'tok', format: 'ocsf' });
  });

  it('refuses a bad file naming the sink and field, never quoting a value, also not a secret from the environment', () => {
    const file = write('bad.yaml', 'sinks:\n  - name: siem\n    type: webhook\n    url: tcp://x:1\n    headers: { Authorization: "Bearer ${MISSING}" }\n  - name: soc\n    type: syslog\n    url: tcp://soc.example\n    format: ocsf\n  - name: hec\n    type: splunk-hec\n    url: "https://user:hunter2@splunk.example"\n    retry: { max_ms: "hunter2" }\n');
    const p = problems(() => load(file, { UNRELATED_SECRET: 'hunter2' }));
    const text = p.join('\n');
    expect(text).toMatch(/headers\.Authorization: \$\{MISSING\} is not set/);
    expect(text).not.toMatch(/hunter2/);
    const second = problems(() => load(write('bad2.yaml', 'sinks:\n  - name: siem\n    type: webhook\n    url: tcp://x:1\n  - name: soc\n    type: syslog\n    url: tcp://soc.example\n    format: ocsf\n  - name: hec\n    type: splunk-hec\n    url: "https://user:hunter2@splunk.example"\n'))).join('\n');
    expect(second).toMatch(/sinks\.0 \(siem\)\.url: a webhook sink takes http: or https:/);
    expect(second).toMatch(/sinks\.1 \(soc\)\.url: name the port/);
    expect(second).toMatch(/sinks\.1 \(soc\)\.format: a syslog sink takes cef or json/);
    expect(second).toMatch(/sinks\.2 \(hec\)\.token: a splunk-hec sink needs its HEC token/);
    expect(second).not.toMatch(/hunter2/);
    expect(problems(() => load(write('broken.yaml', 'sinks: [ {name: "Bearer s3cr3t-token"')))).toEqual([expect.stringMatching(/is not valid YAML \(line \d+, column \d+\)$/)]);
    expect(problems(() => load(write('broken.yaml', 'sinks: [ {name: "Bearer s3cr3t-token"'))).join()).not.toMatch(/s3cr3t/);
  });
});

describe('formats', () => {
  it('CEF: escapes header pipes and backslashes, extension equals signs and line breaks; maps severity 0-10', () => {
    const cef = toCef(event({ activity_type: 'file.deleted', description: 'a|b\\c', action: 'x=y', severity: 'CRITICAL', details: { k: 'v' } }));
    expect(cef).toMatch(/^CEF:0\|audithouse\|audithouse\|[^|]+\|file\.deleted\|a\\\|b\\\\c\|10\|externalId=0192f0c1-6c2e-7cc0-8a1e-3f5b1d2c4e5f rt=1769860800000 act=x\\=y outcome=success suser=alice src=203\.0\.113\.9 /);
    expect(cef).toContain('cs1=acme cs1Label=tenant');
    expect(cef).toContain('cs5={"k":"v"} cs5Label=details');
    expect(cefValue('line1\nline2\r=\\')).toBe('line1\\nline2\\r\\=\\\\');
    expect(toCef(event({ ip_address: 'not-an-ip' }))).not.toContain('src=');
  });

  it('RFC 5424 with facility log audit (13), octet-counted in bytes', () => {
    const msg = toSyslog5424(event({ severity: 'CRITICAL' }), 'json');
    expect(msg).toMatch(/^<106>1 2026-01-31T12:00:00\.000Z \S+ audithouse - user\.login - \{"id":"0192f0c1/);
    const frame = octetFrame('héllo');
    expect(frame.toString('utf8')).toBe('6 héllo');
  });

  it.each([
    ['user.login', 3002, 1], ['user.logout', 3002, 2], ['user.login_failed', 3002, 1], ['user.created', 3001, 1], ['user.deleted', 3001, 6],
    ['user.password_changed', 3001, 3], ['permission.granted', 3005, 1], ['permission.revoked', 3005, 2], ['file.uploaded', 3004, 1],
    ['file.downloaded', 3004, 2], ['file.deleted', 3004, 4], ['invoice.paid', 3004, 99], ['api.request', 6003, 4], ['audit.accessed', 6003, 2],
  ])('OCSF: %s → class %i, activity %i', (type, classUid, activityId) => {
    const o = toOcsf(event({ activity_type: type, details: { method: 'DELETE' }, outcome: type.endsWith('_failed') ? 'failure' : 'success' }));
    expect(o).toMatchObject({ class_uid: classUid, activity_id: activityId, type_uid: classUid * 100 + activityId, category_uid: Math.floor(classUid / 1000), severity_id: 4 });
    expect(o.status_id).toBe(type.endsWith('_failed') ? 2 : 1);
    expect(o.metadata).toMatchObject({ uid: '0192f0c1-6c2e-7cc0-8a1e-3f5b1d2c4e5f', tenant_uid: 'acme', logged_time: 1769860800250 });
  });

  it('Splunk HEC: the event endpoint, one JSON object per event with time in seconds', () => {
    expect(hecUrl(new URL('https://splunk.example:8088')).href).toBe('https://splunk.example:8088/services/collector/event');
    const [def] = loadConfig({ AUDIT_SINKS_FILE: write('hec.yaml', 'sinks:\n  - { name: hec, type: splunk-hec, url: "https://s:8088", token: t, index: audit }\n') }).sinks;
    const lines = httpBody(def!, [event(), event({ id: '0192f0c1-6c2e-7cc0-8a1e-3f5b1d2c4e60' })]).split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ time: 1769860800, index: 'audit', sourcetype: 'audithouse:activity', fields: { event_id: '0192f0c1-6c2e-7cc0-8a1e-3f5b1d2c4e5f' }, event: { id: '0192f0c1-6c2e-7cc0-8a1e-3f5b1d2c4e5f' } });
  });
});

describe('delivery policy', () => {
  it('filters by tenant, minimum severity and activity-type pattern', () => {
    const [def] = loadConfig({ AUDIT_SINKS_FILE: write('f.yaml', 'sinks:\n  - { name: f, type: webhook, url: "http://x", filter: { tenants: [acme], min_severity: HIGH, activity_types: ["user.*", "file.deleted"] } }\n') }).sinks;
    const m = matcher(def!);
    expect(m(event())).toBe(true);
    expect(m(event({ severity: 'MEDIUM' }))).toBe(false);
    expect(m(event({ tenant_id: 'globex' }))).toBe(false);
    expect(m(event({ activity_type: 'file.deleted' }))).toBe(true);
    expect(m(event({ activity_type: 'file.uploaded' }))).toBe(false);
    expect(m(event({ activity_type: 'userx.login' }))).toBe(false);
  });

  it('backs off exponentially with jitter, capped; reads Retry-After as seconds or an HTTP date', () => {
    expect(backoffMs(0, 500, 60_000, () => 0)).toBe(250);
    expect(backoffMs(3, 500, 60_000, () => 1)).toBe(4000);
    expect(backoffMs(30, 500, 60_000, () => 1)).toBe(60_000);
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter(new Date(Date.now() + 10_000).toUTCString())).toBeGreaterThan(8000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});
