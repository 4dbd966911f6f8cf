// Verification speed on a large store: seeds N chained events (real chains, real embedded
// ClickHouse) through the writer's chain code, seals them, then times `verifyChains`.
//   node --import tsx bench/integrity-verify.ts [--rows 1000000] [--tenants 4] [--writers 2] [--dir /tmp/x]
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { EventRow } from '../src/event/model.ts';
import { streamParams } from '../src/integrity/canonical.ts';
import { HashChain } from '../src/integrity/chain.ts';
import { Checkpointer } from '../src/integrity/checkpoints.ts';
import { loadIntegrityKeys } from '../src/integrity/keys.ts';
import { verifyChains } from '../src/integrity/verify.ts';
import { tableTtl } from '../src/retention/policy.ts';
import { loadConfig } from '../src/config.ts';
import { Store } from '../src/store/client.ts';
import { migrate } from '../src/store/migrate.ts';

const { values } = parseArgs({ options: { rows: { type: 'string' }, tenants: { type: 'string' }, writers: { type: 'string' }, dir: { type: 'string' } } });
const total = Number(values.rows ?? 1_000_000);
const tenants = Number(values.tenants ?? 4);
const writers = Number(values.writers ?? 2);
const dir = values.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'audithouse-bench-'));

const store = await Store.open({ dataDir: dir, database: 'bench' });
await migrate(store, { ttl: tableTtl(loadConfig({ AUDIT_DATA_DIR: dir })) });
const keys = await loadIntegrityKeys({ dataDir: dir, key: undefined, signingKey: undefined, trustedKeysFile: undefined }, { create: true });
const params = streamParams(keys.mac.id, ['email', 'phone', 'full_name', 'username', 'user_id', 'ip_address', 'user_agent'], ['user']);
const chains = Array.from({ length: writers }, (_, i) => new HashChain(store, keys.mac, params, `bench-${i}`));

const existing = Number((await store.query<{ n: string }>(`SELECT count() AS n FROM ${store.table('audit_activities')}`))[0]!.n);
const t0 = performance.now();
const start = Date.now() - 30 * 86_400_000;
const BATCH = 20_000;
for (let done = existing; done < total; done += BATCH) {
  const n = Math.min(BATCH, total - done);
  const rows: EventRow[] = [];
  for (let i = 0; i < n; i++) {
    const k = done + i;
    const ts = start + k * 2;
    rows.push({
      id: crypto.randomUUID(), tenant_id: `tenant-${k % tenants}`, timestamp: ts, received_at: ts + 5,
      activity_type: ['user.login', 'file.uploaded', 'api.request', 'permission.granted'][k % 4]!,
      severity: ['LOW', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'][k % 5]!, action: 'act', outcome: k % 11 ? 'success' : 'failure',
      resource_type: k % 7 ? 'file' : 'user', resource_id: `res-${k % 5000}`, user_agent: `agent/${k % 20}`,
      user_id: `user-${k % 20000}`, ip_address: `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`, request_id: `req-${k}`,
      description: `event ${k} for a benchmark`,
      details: k % 3 ? `{"k":${k},"path":"/api/v1/items/${k % 100}"}` : `{"k":${k},"email":"user-${k % 20000}@example.com"}`,
    });
  }
  await chains[(done / BATCH) % writers]!.append(rows);
  if (((done / BATCH) | 0) % 10 === 0) process.stderr.write(`seeded ${done + n}\n`);
}
for (const c of chains) await new Checkpointer(store, c, keys.signer!, 0).close();
const seeded = performance.now() - t0;
const rows = Number((await store.query<{ n: string }>(`SELECT count() AS n FROM ${store.table('audit_activities')}`))[0]!.n);

const mem0 = process.memoryUsage().rss;
let peak = mem0;
const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
const report = await verifyChains(store, keys);
clearInterval(timer);
console.log(JSON.stringify({
  rows, seeded_in_s: +(seeded / 1000).toFixed(1), verify_ok: report.ok, chains: report.chains, checkpoints: report.checkpoints,
  verify_s: +(report.duration_ms / 1000).toFixed(2), rows_per_second: report.rows_per_second,
  rss_mb_before: Math.round(mem0 / 1e6), rss_mb_peak: Math.round(peak / 1e6), dir,
}));
await store.close();
