// One delivering replica per sink: two workers for the same sink on one store (two "replicas",
// distinct lease holders) deliver each event once between them; when the holder stops, the
// other takes the lease over at the next slot and continues from the shared checkpoint.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { transportFor } from '../../src/sinks/index.ts';
import { SinkWorker } from '../../src/sinks/worker.ts';
import { createLogger } from '../../src/logger.ts';
import { createTestService, event, type TestService } from '../support/service.ts';
import { HttpReceiver, eventually } from '../support/sink-receivers.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const receiver = new HttpReceiver();
let t: TestService;
let file: string;
beforeAll(async () => {
  await receiver.up();
  t = await createTestService();
  file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'audithouse-lease-')), 'sinks.json');
  fs.writeFileSync(file, JSON.stringify({ sinks: [{ name: 'siem', type: 'webhook', url: receiver.url, format: 'native', batch: { max_events: 50, max_wait_ms: 50 } }] }));
});
afterAll(async () => {
  await t?.close();
  await receiver.down();
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
});

it('delivers each event once with two replicas, and fails over to the other when the holder stops', async () => {
  const [def] = loadConfig({ AUDIT_SINKS_FILE: file }).sinks;
  const log = createLogger({ level: 'silent' });
  const replica = (holder: string) => new SinkWorker(def!, { store: t.services.store, metrics: t.services.metrics, log, transport: transportFor(def!), leaseWindowMs: 1_500, holder });
  const a = replica('replica-a');
  const b = replica('replica-b');
  a.start();
  b.start();
  const ids = (() => receiver.delivered().map((e) => e.id as string));
  const delivered: string[] = [];
  try {
    // Both have looked at the lease before anything is stored (a new sink starts at "now").
    await eventually(() => a.holding || b.holding, Boolean);
    await new Promise((r) => setTimeout(r, 300));
    const first = await (await t.post(Array.from({ length: 40 }, () => event()))).json();
    delivered.push(...first.ids);
    expect(await eventually(ids, (x) => x.length >= 40)).toEqual(first.ids);
    expect([a.holding, b.holding].filter(Boolean)).toHaveLength(1);

    const [holder, other] = a.holding ? [a, b] : [b, a];
    await holder.stop();
    const second = await (await t.post(Array.from({ length: 20 }, () => event()))).json();
    delivered.push(...second.ids);
    const got = await eventually(ids, (x) => new Set(x).size >= 60, 20_000);
    expect([...new Set(got)]).toEqual(delivered);
    expect(got).toHaveLength(60); // the checkpoint was shared: nothing sent twice
    expect(other.holding).toBe(true);
  } finally {
    await a.stop();
    await b.stop();
  }
});
