// The syslog transport on real sockets: tls:// with a CA file (and refusing an untrusted
// certificate), RFC 6587 octet counting as a receiver splits it, and the last batch written
// again after the connection broke (plain syslog has no acknowledgement).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import type { AuditEvent } from '../../src/event/model.ts';
import { SyslogTransport } from '../../src/sinks/syslog-transport.ts';
import { DeliveryError } from '../../src/sinks/transport.ts';
import { SyslogReceiver, eventually } from '../support/sink-receivers.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audithouse-syslog-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const haveOpenssl = spawnSync('openssl', ['version']).status === 0;
if (!haveOpenssl) process.stderr.write('\n[sinks-syslog] SKIPPED tls:// case: openssl is not on PATH to make a test certificate\n\n');

const event = (n: number): AuditEvent => ({
  id: `0192f0c1-6c2e-7cc0-8a1e-${String(n).padStart(12, '0')}`, timestamp: '2026-01-31T12:00:00.000Z', received_at: '2026-01-31T12:00:00.000Z',
  activity_type: 'user.login', severity: 'LOW', action: 'login', description: `line one\nline ${n}`, outcome: 'success', user_id: 'u',
  tenant_id: 'acme', resource_type: '', resource_id: '', ip_address: '', user_agent: '', request_id: '', details: {},
});
const transport = (url: string, extra = '') => {
  const file = path.join(dir, `s-${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(file, `sinks:\n  - { name: soc, type: syslog, url: "${url}", format: json${extra} }\n`);
  return new SyslogTransport(loadConfig({ AUDIT_SINKS_FILE: file }).sinks[0]!);
};
const ids = (messages: string[]) => messages.map((m) => (JSON.parse(m.slice(m.indexOf('{'))) as { id: string }).id.slice(-2));

describe('syslog over tcp://', () => {
  it('frames each message by its byte count (newlines inside a message survive) and writes the last batch again after a broken connection', async () => {
    const rx = await new SyslogReceiver().up();
    const t = transport(`tcp://127.0.0.1:${rx.port}`);
    try {
      await t.send([event(1), event(2)]);
      await eventually(() => rx.messages.length, (n) => n === 2);
      expect(rx.messages[0]).toContain('"description":"line one\\nline 1"');
      await rx.down(); // the receiver goes away: what it had not read yet is lost to it
      await rx.up();
      await eventually(async () => {
        try {
          await t.send([event(3)]);
          return true;
        } catch (err) {
          expect(err).toBeInstanceOf(DeliveryError);
          return false;
        }
      }, Boolean);
      // Either the break was seen before batch 3 (1 and 2 written again, then 3), or batch 3 went
      // into the dying connection and the idle flush writes it again: nothing is missing.
      const got = await eventually(async () => {
        await t.flush();
        return ids(rx.messages);
      }, (x) => x.includes('03'));
      expect([...new Set(got)]).toEqual(['01', '02', '03']);
    } finally {
      await t.close();
      await rx.down();
    }
  });
});

describe.skipIf(!haveOpenssl)('syslog over tls://', () => {
  it('trusts the configured CA file, and refuses the connection without it', async () => {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-keyout', key, '-out', cert], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const received: string[] = [];
    const server = tls.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (s) => {
      s.on('data', (c: Buffer) => received.push(c.toString('utf8')));
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const trusted = transport(`tls://localhost:${port}`, `, tls: { ca_file: "${cert}" }`);
    const untrusted = transport(`tls://localhost:${port}`);
    try {
      await trusted.send([event(7)]);
      const text = (await eventually(() => received.join(''), (x) => x.includes('"id"'))).toString();
      expect(text).toMatch(/^\d+ <110>1 2026-01-31T12:00:00\.000Z /);
      await expect(untrusted.send([event(8)])).rejects.toBeInstanceOf(DeliveryError);
    } finally {
      await trusted.close();
      await untrusted.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
