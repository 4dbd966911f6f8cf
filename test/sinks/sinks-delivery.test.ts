// Sinks end to end on loopback sockets: a webhook (OCSF) and a syslog sink (CEF, RFC 6587)
// through a receiver outage and a service restart while the receivers are down: every event
// arrives at least once, in stored order, the checkpoint carries over the restart, Retry-After is
// honoured, an event the receiver refuses for good is counted and skipped, not retried forever.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/event/ids.ts';
import { HttpReceiver, SyslogReceiver, eventually } from '../support/sink-receivers.ts';
import { startService, type RunningService } from '../support/running-service.ts';

const webhook = new HttpReceiver();
const syslog = new SyslogReceiver();
let svc: RunningService;
let dir: string;
const posted: string[] = [];
const TOKEN_VALUE = 'sink-secret-4f1c9a7e';

beforeAll(async () => {
  await webhook.up();
  await syslog.up();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audithouse-sinks-'));
  const file = path.join(dir, 'sinks.yaml');
  fs.writeFileSync(file, `
sinks:
  - name: siem
    type: webhook
    url: ${webhook.url}/ingest
    format: ocsf
    headers: { Authorization: "Bearer \${WEBHOOK_TOKEN}" }
    filter: { tenants: [acme] }
    batch: { max_events: 20, max_wait_ms: 100 }
    retry: { initial_ms: 50, max_ms: 400 }
  - name: soc
    type: syslog
    url: tcp://127.0.0.1:${syslog.port}
    format: cef
    batch: { max_events: 15, max_wait_ms: 100 }
    retry: { initial_ms: 50, max_ms: 400 }
`);
  // A batch holding the poison event is refused for good (400); every other batch is taken.
  webhook.decide = (body) => (body.includes('poison') ? { status: 400 } : { status: 200 });
  svc = await startService({ AUDIT_SINKS_FILE: file, WEBHOOK_TOKEN: TOKEN_VALUE });
});
afterAll(async () => {
  await svc?.close();
  await webhook.down();
  await syslog.down();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function post(n: number, opts: { poisonAt?: number } = {}): Promise<void> {
  const token = await svc.token();
  const events = Array.from({ length: n }, (_, i) => {
    const id = uuidv7();
    posted.push(id);
    return { id, activity_type: 'user.login', action: 'login', user_id: `u-${posted.length}`, description: i === opts.poisonAt ? 'poison' : `event ${posted.length}`, ip_address: '198.51.100.7' };
  });
  const res = await fetch(`${svc.url}/api/v1/audit/activities`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(events) });
  expect(res.status).toBe(202);
}

const webhookIds = () => webhook.delivered().map((e) => (e.metadata as { uid: string }).uid);
const syslogIds = () => syslog.messages.map((m) => /externalId=([0-9a-f-]{36})/.exec(m)?.[1] ?? '');
/** Ids in order of first arrival (redeliveries are allowed: at least once). */
const firstSeen = (ids: string[]) => [...new Set(ids)];
const metric = async (line: RegExp) => {
  const text = await (await fetch(`${svc.url}/metrics`)).text();
  return Number(line.exec(text)?.[1] ?? 'NaN');
};

describe('webhook (OCSF) and syslog (CEF) sinks', () => {
  it('deliver stored events in order, as OCSF with the event id as metadata.uid, as CEF with externalId', async () => {
    await post(30, { poisonAt: 7 });
    const poison = posted[7]!;
    const expected = posted.filter((id) => id !== poison);
    expect(firstSeen(await eventually(webhookIds, (ids) => new Set(ids).size >= expected.length))).toEqual(expected);
    expect(firstSeen(await eventually(syslogIds, (ids) => new Set(ids).size >= 30))).toEqual(posted);

    const first = webhook.delivered()[0]!;
    expect(first).toMatchObject({
      class_uid: 3002, category_uid: 3, activity_id: 1, type_uid: 300201, severity_id: 2, status_id: 1,
      actor: { user: { uid: 'u-1' } }, src_endpoint: { ip: '198.51.100.7' },
      metadata: { uid: posted[0], product: { name: 'audithouse' }, version: expect.stringMatching(/^1\./) },
      unmapped: { activity_type: 'user.login', action: 'login' },
    });
    expect(typeof first.time).toBe('number');
    expect(webhook.requests[0]!.headers.authorization).toBe(`Bearer ${TOKEN_VALUE}`);
    expect(webhook.requests[0]!.path).toBe('/ingest');
    expect(syslog.messages[0]).toMatch(/^<110>1 \S+Z \S+ audithouse - user\.login - CEF:0\|audithouse\|audithouse\|[^|]+\|user\.login\|event 1\|3\|externalId=/);
    expect(syslog.messages[0]).toMatch(/ suser=u-1 src=198\.51\.100\.7 /);
  });

  it('counts and logs an event refused for good (400) once, and does not retry it forever', async () => {
    const rejected = await eventually(() => metric(/^audit_sink_failures_total\{sink="siem",reason="rejected"\} (\d+)/m), (n) => n === 1);
    expect(rejected).toBe(1);
    const poisonRequests = webhook.requests.filter((r) => r.status === 400).length;
    await new Promise((r) => setTimeout(r, 500));
    expect(webhook.requests.filter((r) => r.status === 400).length).toBe(poisonRequests); // no more attempts
    expect(webhookIds()).not.toContain(posted[7]);
    expect(await metric(/^audit_sink_delivered_events_total\{sink="siem"\} (\d+)/m)).toBeGreaterThanOrEqual(29);
  });

  it('lose nothing across a receiver outage and a service restart during it, then honour Retry-After', async () => {
    await webhook.down();
    await syslog.down();
    await post(25);
    await eventually(() => metric(/^audit_sink_failures_total\{sink="siem",reason="network"\} (\d+)/m), (n) => n >= 2);
    await eventually(() => metric(/^audit_sink_failures_total\{sink="soc",reason="network"\} (\d+)/m), (n) => n >= 2);
    const lag = await eventually(() => metric(/^audit_sink_lag_seconds\{sink="siem"\} ([\d.e+-]+)/m), (n) => n > 0);
    expect(lag).toBeGreaterThan(0);

    await svc.stop(); // restart while the receivers are still down: the checkpoint must carry over
    await svc.start();
    await post(10);
    // Back up; the first webhook request gets 429 + Retry-After: 1.
    const resumedAt = webhook.requests.length;
    webhook.decide = (body, n) => (n === resumedAt ? { status: 429, headers: { 'Retry-After': '1' } } : body.includes('poison') ? { status: 400 } : { status: 200 });
    await webhook.up();
    await syslog.up();

    const expected = posted.filter((id) => id !== posted[7]);
    expect(firstSeen(await eventually(webhookIds, (ids) => new Set(ids).size >= expected.length, 60_000))).toEqual(expected);
    expect(firstSeen(await eventually(syslogIds, (ids) => new Set(ids).size >= posted.length, 60_000))).toEqual(posted);
    const [refused, retried] = webhook.requests.slice(resumedAt, resumedAt + 2);
    expect(refused!.status).toBe(429);
    expect(retried!.at - refused!.at).toBeGreaterThanOrEqual(950);
    // Nothing from before the restart was sent again from the start: the checkpoint held.
    expect(webhookIds().filter((id) => id === posted[0])).toHaveLength(1);
    expect(await eventually(() => metric(/^audit_sink_lag_seconds\{sink="siem"\} ([\d.e+-]+)/m), (n) => n === 0)).toBe(0);
  });
});
