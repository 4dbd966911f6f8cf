// The Prometheus configuration and alert rules in prometheus/: checked and unit-tested by the real
// promtool (Debian package `prometheus`; .ci/run installs it), plus checks of our own that need no
// promtool: every alert documented, annotated, covered by firing and silent promtool cases, and
// reading only metrics the service exports.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetrics } from '../../src/metrics.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PROM = path.join(ROOT, 'prometheus');
const RULE_FILES = fs.readdirSync(path.join(PROM, 'rules')).filter((f) => f.endsWith('.yml')).map((f) => path.join(PROM, 'rules', f));
const TEST_FILES = fs.readdirSync(path.join(PROM, 'tests')).filter((f) => f.endsWith('.yml')).map((f) => path.join(PROM, 'tests', f));

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: Array<{ name: string; rules: AlertRule[] }>;
}
interface PromtoolTests {
  rule_files: string[];
  tests: Array<{ name: string; alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
}

const rules: AlertRule[] = RULE_FILES.flatMap((f) => (parse(fs.readFileSync(f, 'utf8')) as RuleFile).groups.flatMap((g) => g.rules));
const alerts = new Map(rules.map((r) => [r.alert, r]));

const promtoolVersion = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const havePromtool = !promtoolVersion.error && promtoolVersion.status === 0;
const SKIP_REASON = 'SKIPPED: promtool is not on PATH (install Debian package "prometheus"; bash .ci/run does)';
if (!havePromtool) process.stderr.write(`\n[prometheus-rules] ${SKIP_REASON}: promtool check config/rules and promtool test rules do not run.\n\n`);

function promtool(...args: string[]) {
  const r = spawnSync('promtool', args, { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe(havePromtool ? `promtool (${promtoolVersion.stdout.split('\n')[0]})` : `promtool — ${SKIP_REASON}`, () => {
  it.skipIf(!havePromtool)('promtool check config accepts prometheus/prometheus.yml and finds the rule files', () => {
    const r = promtool('check', 'config', 'prometheus/prometheus.yml');
    expect(r.output).toContain('SUCCESS');
    expect(r.output).toMatch(/SUCCESS: \d+ rule files? found/);
    expect(r.status, r.output).toBe(0);
  });

  it.skipIf(!havePromtool)('promtool check rules accepts every rule file', () => {
    const r = promtool('check', 'rules', ...RULE_FILES.map((f) => path.relative(ROOT, f)));
    expect(r.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.status, r.output).toBe(0);
  });

  it.skipIf(!havePromtool)('promtool test rules: every alert fires when it should and stays silent when it should not', () => {
    const r = promtool('test', 'rules', ...TEST_FILES.map((f) => path.relative(ROOT, f)));
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
    expect(r.output).not.toContain('FAILED');
  });

  it.skipIf(!havePromtool)('promtool test rules fails when a rule is broken (the tests can fail)', () => {
    // Same rules with the seed's CRITICAL alert turned to fire on HIGH events as well.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audithouse-rules-mutant-'));
    try {
      fs.mkdirSync(path.join(dir, 'rules'));
      fs.mkdirSync(path.join(dir, 'tests'));
      for (const f of RULE_FILES) {
        const text = fs.readFileSync(f, 'utf8').replace('severity="CRITICAL"', 'severity=~"CRITICAL|HIGH"');
        fs.writeFileSync(path.join(dir, 'rules', path.basename(f)), text);
      }
      for (const f of TEST_FILES) fs.copyFileSync(f, path.join(dir, 'tests', path.basename(f)));
      const r = promtool('test', 'rules', ...TEST_FILES.map((f) => path.join(dir, 'tests', path.basename(f))));
      expect(r.status).not.toBe(0);
      expect(r.output).toContain('HighSeverityAuditEvents');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('alert rules (no promtool needed)', () => {
  it('keep the seed alerts as specified', () => {
    expect(alerts.get('HighSeverityAuditEvents')).toMatchObject({ for: '1m' });
    expect(alerts.get('HighSeverityAuditEvents')!.expr).toMatch(/rate\(audit_activities_total\{severity="CRITICAL"\}\[5m\]\)\) > 0$/);
    expect(alerts.get('AuditLogStorageFull')).toMatchObject({ expr: 'audit_storage_size_bytes > 10737418240', for: '5m' });
    expect(10737418240).toBe(10 * 1024 ** 3);
    expect(alerts.get('AuditRetentionFailed')!.expr).toBe('increase(audit_retention_errors_total[1h]) > 0');
  });

  it('cover what on-call needs: service down, ingest errors, p99 latency, spool, stale retention, lagging sinks', () => {
    expect([...alerts.keys()].sort()).toEqual([
      'AuditHighLatency', 'AuditIngestErrors', 'AuditLogStorageFull', 'AuditRetentionFailed', 'AuditRetentionNotSuccessful',
      'AuditServiceDown', 'AuditSinkLagging', 'AuditSpoolGrowing', 'AuditSpoolNotDraining', 'HighSeverityAuditEvents',
    ]);
    expect(alerts.get('AuditSinkLagging')!.expr).toContain('audit_sink_lag_seconds');
    expect(alerts.get('AuditServiceDown')!.expr).toContain('up{job="audithouse"} == 0');
    expect(alerts.get('AuditRetentionNotSuccessful')!.expr).toContain('audit_retention_last_success_timestamp_seconds');
    expect(alerts.get('AuditRetentionNotSuccessful')!.expr).toContain('26 * 3600');
    expect(alerts.get('AuditHighLatency')!.expr).toContain('histogram_quantile(0.99');
  });

  it('each have a severity, a summary, a description and a runbook that exists in the README', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.split(/^## Alerts and runbooks$/m)[1]?.split(/^## /m)[0];
    expect(section, 'README section "## Alerts and runbooks"').toBeDefined();
    for (const r of rules) {
      expect(['critical', 'warning'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.description, r.alert).toBeTruthy();
      expect(r.annotations?.runbook, r.alert).toBe(`README.md#${r.alert.toLowerCase()}`);
      const runbook = section!.split(new RegExp(`^### ${r.alert}$`, 'm'))[1]?.split(/^### /m)[0]?.trim();
      expect(runbook, `README runbook for ${r.alert}`).toBeTruthy();
      expect(runbook!.length, `README runbook for ${r.alert}`).toBeGreaterThan(200);
    }
  });

  it('each have promtool cases where they fire and where they stay silent', () => {
    const cases = TEST_FILES.flatMap((f) => {
      const t = parse(fs.readFileSync(f, 'utf8')) as PromtoolTests;
      for (const rf of t.rule_files) expect(RULE_FILES).toContain(path.resolve(path.dirname(f), rf));
      return t.tests.flatMap((x) => x.alert_rule_test ?? []);
    });
    for (const name of alerts.keys()) {
      const mine = cases.filter((c) => c.alertname === name);
      expect(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${name} fires in some test`).toBe(true);
      expect(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${name} stays silent in some test`).toBe(true);
    }
  });

  it('read only metrics the service exports', async () => {
    const m = createMetrics();
    const exported = new Set((await m.registry.getMetricsAsJSON()).map((x) => x.name));
    for (const r of rules) {
      for (const [name] of r.expr.matchAll(/\b(?:audit|process|nodejs)_[a-z0-9_]+/g)) {
        const base = name.replace(/_(bucket|count|sum)$/, '');
        expect(exported.has(name) || exported.has(base), `${r.alert} reads ${name}`).toBe(true);
      }
    }
  });

  it('prometheus.yml scrapes the compose service audithouse:8080 as job "audithouse" and loads rules/*.yml', () => {
    const cfg = parse(fs.readFileSync(path.join(PROM, 'prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: Array<{ job_name: string; metrics_path?: string; static_configs: Array<{ targets: string[] }> }>;
    };
    expect(cfg.rule_files).toEqual(['rules/*.yml']);
    const job = cfg.scrape_configs.find((j) => j.job_name === 'audithouse');
    expect(job?.static_configs.flatMap((s) => s.targets)).toEqual(['audithouse:8080']);
    expect(job?.metrics_path ?? '/metrics').toBe('/metrics');
  });
});
