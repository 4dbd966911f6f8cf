// End to end: the real service (serve(), embedded ClickHouse, a free loopback port) scraped by a
// real Prometheus (Debian package, its own loopback port and temp storage) that loads our alert
// rules. CRITICAL events posted over HTTP must show up as HighSeverityAuditEvents firing in
// Prometheus' HTTP API; stopping the service must fire AuditServiceDown.
//
// Prometheus' config and rules are GENERATED from the real prometheus/prometheus.yml and
// prometheus/rules/*.yml: scrape and evaluation intervals become 1s, the target becomes our port,
// and in the rules only each `for:` is shortened to 1s (checked below), so the test takes
// seconds while every expression is exactly the one that ships.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { mintToken } from '../../src/auth/jwt.ts';
import { loadConfig } from '../../src/config.ts';
import { serve } from '../../src/server.ts';
import { TEST_SECRET } from '../support/service.ts';
import { freePort } from '../support/service-process.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const version = spawnSync('prometheus', ['--version'], { encoding: 'utf8' });
const havePrometheus = !version.error && version.status === 0;
const SKIP_REASON = 'SKIPPED: the prometheus binary is not on PATH (install Debian package "prometheus"; bash .ci/run does)';
if (!havePrometheus) process.stderr.write(`\n[alerts-e2e] ${SKIP_REASON}: the end-to-end alert check does not run.\n\n`);

const SHORT_FOR = '1s';

interface Rule { alert: string; expr: string; for?: string; [k: string]: unknown }
interface RuleFile { groups: Array<{ name: string; rules: Rule[] }> }
interface PromAlert { labels: Record<string, string>; annotations: Record<string, string>; state: 'pending' | 'firing' | 'inactive' }

/** The shipped rules with only `for:` shortened. */
function shortenedRules(file: string): RuleFile {
  const rules = parse(fs.readFileSync(file, 'utf8')) as RuleFile;
  for (const g of rules.groups) for (const r of g.rules) if (r.for !== undefined) r.for = SHORT_FOR;
  return rules;
}

async function waitFor<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>, diagnostics: () => string): Promise<T> {
  const end = Date.now() + deadlineMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}\n${diagnostics()}`);
}

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
}, 30_000);

describe(havePrometheus ? `alerts end to end (${version.stdout.split('\n')[0]})` : `alerts end to end — ${SKIP_REASON}`, () => {
  it.skipIf(!havePrometheus)('the generated rules differ from the shipped ones only in `for:`', () => {
    for (const f of fs.readdirSync(path.join(ROOT, 'prometheus/rules')).filter((x) => x.endsWith('.yml'))) {
      const file = path.join(ROOT, 'prometheus/rules', f);
      const shipped = parse(fs.readFileSync(file, 'utf8')) as RuleFile;
      const short = shortenedRules(file);
      const withoutFor = (rf: RuleFile) => rf.groups.map((g) => g.rules.map(({ for: _for, ...rest }) => rest));
      expect(withoutFor(short)).toEqual(withoutFor(shipped));
      expect(short.groups.flatMap((g) => g.rules).filter((r) => r.for !== undefined).every((r) => r.for === SHORT_FOR)).toBe(true);
    }
  });

  it.skipIf(!havePrometheus)('a real Prometheus fires HighSeverityAuditEvents on posted CRITICAL events, then AuditServiceDown when the service stops', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'audithouse-e2e-'));
    cleanups.push(() => fs.rmSync(tmp, { recursive: true, force: true }));

    // The service, for real, on a free loopback port.
    const config = loadConfig({
      PORT: '0', HOST: '127.0.0.1', AUDIT_DATA_DIR: path.join(tmp, 'data'), AUDIT_JWT_SECRET: TEST_SECRET,
      AUDIT_LOG_LEVEL: 'silent', CLICKHOUSE_DATABASE: 'e2e', AUDIT_BATCH_LINGER_MS: '1',
    });
    const server = await serve(config);
    let serverClosed = false;
    const closeServer = async () => {
      if (!serverClosed) await server.close();
      serverClosed = true;
    };
    cleanups.push(closeServer);
    const base = `http://127.0.0.1:${server.port}`;

    // Prometheus configuration generated from the shipped one.
    const rulesDir = path.join(tmp, 'rules');
    fs.mkdirSync(rulesDir);
    for (const f of fs.readdirSync(path.join(ROOT, 'prometheus/rules')).filter((x) => x.endsWith('.yml'))) {
      fs.writeFileSync(path.join(rulesDir, f), stringify(shortenedRules(path.join(ROOT, 'prometheus/rules', f))));
    }
    const promCfg = parse(fs.readFileSync(path.join(ROOT, 'prometheus/prometheus.yml'), 'utf8')) as {
      global: Record<string, unknown>;
      rule_files: string[];
      scrape_configs: Array<Record<string, unknown> & { job_name: string }>;
    };
    promCfg.global.scrape_interval = '1s';
    promCfg.global.evaluation_interval = '1s';
    promCfg.rule_files = [path.join(rulesDir, '*.yml')];
    const job = promCfg.scrape_configs.find((j) => j.job_name === 'audithouse')!;
    expect(job).toBeDefined();
    Object.assign(job, { scrape_interval: '1s', scrape_timeout: '1s', static_configs: [{ targets: [`127.0.0.1:${server.port}`] }] });
    promCfg.scrape_configs = [job]; // nothing else (the stock config also scrapes :9090, which is not ours)
    const promCfgFile = path.join(tmp, 'prometheus.yml');
    fs.writeFileSync(promCfgFile, stringify(promCfg));

    const promPort = await freePort();
    const promBase = `http://127.0.0.1:${promPort}`;
    let promLog = '';
    const prom: ChildProcess = spawn('prometheus', [
      `--config.file=${promCfgFile}`,
      `--storage.tsdb.path=${path.join(tmp, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    prom.stdout!.on('data', (d: Buffer) => (promLog += d.toString()));
    prom.stderr!.on('data', (d: Buffer) => (promLog += d.toString()));
    const exited = new Promise<void>((resolve) => prom.once('exit', () => resolve()));
    cleanups.push(async () => {
      if (prom.exitCode !== null || prom.signalCode !== null) return;
      prom.kill('SIGTERM');
      const timer = setTimeout(() => prom.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    });
    const diag = () => `prometheus output:\n${promLog.slice(-3000)}`;

    const api = async <T>(p: string): Promise<T> => {
      const res = await fetch(promBase + p, { signal: AbortSignal.timeout(2_000) });
      if (!res.ok) throw new Error(`${p}: HTTP ${res.status}`);
      return ((await res.json()) as { data: T }).data;
    };
    const query = (q: string) => api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(`/api/v1/query?query=${encodeURIComponent(q)}`);
    const alerts = async () => (await api<{ alerts: PromAlert[] }>('/api/v1/alerts')).alerts;

    await waitFor('Prometheus to be ready', 20_000, async () => ((await fetch(`${promBase}/-/ready`)).ok ? true : undefined), diag);
    // Scraped at least twice with the CRITICAL counter at 0, so the first events make a rate.
    await waitFor('two scrapes of the idle service', 20_000, async () => {
      const r = await query('count_over_time(audit_activities_total{job="audithouse", activity_type="user.login", severity="CRITICAL"}[1m])');
      return Number(r.result[0]?.value[1] ?? 0) >= 2 ? true : undefined;
    }, diag);
    expect((await query('up{job="audithouse"}')).result[0]?.value[1]).toBe('1');
    // Healthy and idle: nothing fires, nothing pends (a fresh start is not "retention stale").
    expect(await alerts()).toEqual([]);

    // CRITICAL events over HTTP, with a real token.
    const token = await mintToken(TEST_SECRET, { tenant: 'acme', scope: 'audit:write', sub: 'alice' });
    const post = await fetch(`${base}/api/v1/audit/activities`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify([
        { activity_type: 'user.login', action: 'login', severity: 'CRITICAL', description: 'admin login from a new country' },
        { activity_type: 'user.login', action: 'login', severity: 'CRITICAL' },
        { activity_type: 'file.downloaded', action: 'download', severity: 'LOW' },
      ]),
    });
    expect(post.status).toBe(202);

    const firing = await waitFor('HighSeverityAuditEvents to fire', 30_000, async () => {
      const a = (await alerts()).filter((x) => x.labels.alertname === 'HighSeverityAuditEvents' && x.state === 'firing');
      return a.length > 0 ? a : undefined;
    }, diag);
    expect(firing).toHaveLength(1);
    expect(firing[0]!.labels).toMatchObject({ alertname: 'HighSeverityAuditEvents', severity: 'critical', job: 'audithouse', activity_type: 'user.login' });
    expect(firing[0]!.annotations.summary).toBe(`CRITICAL audit events (user.login) on 127.0.0.1:${server.port}`);
    expect(firing[0]!.annotations.runbook).toBe('README.md#highseverityauditevents');
    // Only that alert: the LOW event and the healthy service raise nothing else.
    expect((await alerts()).map((a) => a.labels.alertname)).toEqual(['HighSeverityAuditEvents']);

    // The service stops: the next failed scrapes must page.
    await closeServer();
    const down = await waitFor('AuditServiceDown to fire', 30_000, async () => {
      const a = (await alerts()).find((x) => x.labels.alertname === 'AuditServiceDown' && x.state === 'firing');
      return a;
    }, diag);
    expect(down.labels).toMatchObject({ severity: 'critical', job: 'audithouse', instance: `127.0.0.1:${server.port}` });
  }, 90_000);
});
