// Cluster rendering of the migrations: every statement parses in the real engine, the set matches
// the reviewed snapshot, and the rewriting rules hold for each kind of statement.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderStatementForCluster } from '../../src/cluster/render.ts';
import { Store } from '../../src/store/client.ts';
import { plan } from '../../src/store/migrate.ts';
import { testDataDir } from '../support/service.ts';

let store: Store;
beforeAll(async () => {
  store = await Store.open({ dataDir: testDataDir(), database: 'unused' });
});
afterAll(async () => store.close());

const o = { cluster: 'audit_cluster', database: 'audit' };
const steps = plan(o);
const statements = steps.flatMap((s) => s.statements);

describe('migrate --cluster rendering', () => {
  it('every rendered statement parses in the real engine (formatQuery)', async () => {
    expect(statements.length).toBeGreaterThan(3);
    for (const sql of statements) {
      const rows = await store.query<{ f: string }>('SELECT formatQuery({sql:String}) AS f', { sql });
      expect(rows[0]!.f.length, sql).toBeGreaterThan(10);
    }
  });

  it('matches the reviewed snapshot (update with `npx vitest run test/ops/cluster.test.ts -u` and review the diff)', async () => {
    const text = steps.map((s) => `-- ${s.name}\n${s.statements.map((x) => `${x};\n`).join('\n')}`).join('\n');
    await expect(text).toMatchFileSnapshot('./__snapshots__/cluster-ddl.sql');
  });

  it('every MergeTree table is Replicated on each shard behind a Distributed table of the original name', () => {
    const creates = statements.filter((s) => /^CREATE TABLE/.test(s));
    const locals = creates.filter((s) => /_local` ON CLUSTER/.test(s));
    for (const l of locals) expect(l).toMatch(/ENGINE = Replicated\w*MergeTree\('\/clickhouse\/tables\/\{shard\}\/audit\/\w+_local', '\{replica\}'/);
    const dists = creates.filter((s) => /ENGINE = Distributed/.test(s));
    expect(dists.length).toBe(locals.length);
    expect(statements.some((s) => /ENGINE = MergeTree|ENGINE = (Replacing|Summing|Aggregating)MergeTree/.test(s))).toBe(false);
    const activities = dists.find((s) => s.includes('`audit`.`audit_activities` ON CLUSTER'));
    expect(activities).toContain('cityHash64(tenant_id)'); // a tenant's rows and streams stay on one shard
  });

  it('rewrites materialized views, ALTERs and drops for the local tables', () => {
    const mv = renderStatementForCluster(
      'CREATE MATERIALIZED VIEW IF NOT EXISTS `audit`.mv_daily TO `audit`.daily AS SELECT tenant_id, count() AS n FROM `audit`.audit_activities GROUP BY tenant_id', o);
    expect(mv).toEqual(['CREATE MATERIALIZED VIEW IF NOT EXISTS `audit`.`mv_daily` ON CLUSTER `audit_cluster` TO `audit`.`daily_local` AS SELECT tenant_id, count() AS n FROM `audit`.`audit_activities_local` GROUP BY tenant_id']);
    expect(renderStatementForCluster('ALTER TABLE `audit`.`audit_activities` ADD COLUMN seq UInt64', o)).toEqual([
      'ALTER TABLE `audit`.`audit_activities_local` ON CLUSTER `audit_cluster` ADD COLUMN seq UInt64',
      'ALTER TABLE `audit`.`audit_activities` ON CLUSTER `audit_cluster` ADD COLUMN seq UInt64',
    ]);
    expect(renderStatementForCluster('ALTER TABLE `audit`.`audit_activities` MODIFY TTL toDateTime(timestamp) + toIntervalDay(3)', o)).toEqual([
      'ALTER TABLE `audit`.`audit_activities_local` ON CLUSTER `audit_cluster` MODIFY TTL toDateTime(timestamp) + toIntervalDay(3)',
    ]);
    const summing = renderStatementForCluster('CREATE TABLE IF NOT EXISTS `audit`.daily (tenant_id String, day Date, n UInt64) ENGINE = SummingMergeTree((n)) ORDER BY (tenant_id, day)', o);
    expect(summing[0]).toContain("ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/audit/daily_local', '{replica}', (n)) ORDER BY");
    expect(renderStatementForCluster('DROP TABLE IF EXISTS `audit`.daily', o)).toHaveLength(2);
    expect(renderStatementForCluster('INSERT INTO `audit`.daily SELECT 1', o)).toEqual(['INSERT INTO `audit`.daily SELECT 1']);
    expect(renderStatementForCluster('TRUNCATE TABLE `audit`.`keys`', o)).toEqual(['TRUNCATE TABLE `audit`.`keys_local` ON CLUSTER `audit_cluster`']);
  });

  it('in cluster mode the store sends mutations to the shards’ local tables ON CLUSTER (seen on the wire)', async () => {
    const seen: string[] = [];
    const listener = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d));
      req.on('end', () => {
        seen.push(new URL(req.url ?? '', 'http://x').searchParams.get('query') ?? body);
        res.writeHead(200, { 'X-ClickHouse-Summary': '{}' }).end('');
      });
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const server = await Store.open({ dataDir: testDataDir(), url: `http://127.0.0.1:${(listener.address() as AddressInfo).port}`, database: 'audit', cluster: 'audit_cluster' });
    try {
      await server.alter(`ALTER TABLE ${server.table('audit_activities')} DELETE WHERE tenant_id = {t:String} SETTINGS mutations_sync = 2`, { t: 'acme' });
      expect(seen.join('\n')).toContain('ALTER TABLE `audit`.`audit_activities_local` ON CLUSTER `audit_cluster` DELETE WHERE tenant_id = {t:String}');
    } finally {
      await server.close();
      listener.close();
    }
  });
});
