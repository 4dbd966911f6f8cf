// The Grafana provisioning as Grafana will read it: files parse, uids resolve, layouts do not
// overlap, links land on real dashboards and variables, the committed dashboard JSON is what the
// code generates, and every PromQL expression is valid (promtool) over metrics the service exports.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { staleDashboards } from '../../scripts/dashboards/index.ts';
import { createMetrics } from '../../src/metrics.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PROVISIONING = path.join(ROOT, 'grafana/provisioning');
type Json = Record<string, any>;

const yamlFiles = (dir: string) =>
  fs.readdirSync(path.join(PROVISIONING, dir)).filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join(PROVISIONING, dir, f));
/** Strict YAML: duplicate keys and other sloppiness are errors, as they are for Grafana's loader. */
const readYaml = (file: string) => parse(fs.readFileSync(file, 'utf8'), { strict: true, uniqueKeys: true }) as Json;

const datasources: Json[] = yamlFiles('datasources').flatMap((f) => readYaml(f).datasources as Json[]);
const uidType = new Map(datasources.map((d) => [d.uid as string, d.type as string]));
const dashboards: Array<{ file: string; json: Json }> = fs
  .readdirSync(path.join(ROOT, 'grafana/dashboards'))
  .filter((f) => f.endsWith('.json'))
  .map((file) => ({ file, json: JSON.parse(fs.readFileSync(path.join(ROOT, 'grafana/dashboards', file), 'utf8')) }));
const byUid = new Map(dashboards.map((d) => [d.json.uid as string, d.json]));
const alerting = Object.fromEntries(yamlFiles('alerting').map((f) => [path.basename(f), readYaml(f)]));

/** Every datasource reference in a dashboard: panels, targets, variables. */
function datasourceRefs(d: Json): Array<{ where: string; ref: Json }> {
  const out: Array<{ where: string; ref: Json }> = [];
  for (const p of d.panels as Json[]) {
    out.push({ where: `panel "${p.title}"`, ref: p.datasource });
    for (const t of p.targets as Json[]) out.push({ where: `panel "${p.title}" target ${t.refId}`, ref: t.datasource });
  }
  for (const v of d.templating.list as Json[]) if (v.datasource) out.push({ where: `variable ${v.name}`, ref: v.datasource });
  return out;
}

const overlaps = (a: Json, b: Json) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

describe('provisioning files', () => {
  it('all parse as apiVersion 1 and the datasources have fixed, unique uids', () => {
    const files = [...yamlFiles('datasources'), ...yamlFiles('dashboards'), ...yamlFiles('alerting')];
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) expect(readYaml(f).apiVersion, f).toBe(1);
    expect([...uidType]).toEqual([
      ['audithouse-clickhouse', 'grafana-clickhouse-datasource'],
      ['audithouse-prometheus', 'prometheus'],
    ]);
    const ch = datasources.find((d) => d.type === 'grafana-clickhouse-datasource')!;
    expect(ch.jsonData).toMatchObject({ defaultDatabase: 'audit', protocol: 'native', port: 9000, username: '${CLICKHOUSE_GRAFANA_USER}' });
    // Credentials come from the environment, never from the file.
    expect(ch.secureJsonData.password).toBe('${CLICKHOUSE_GRAFANA_PASSWORD}');
  });

  it('the dashboard provider loads the directory the dashboards are mounted in', () => {
    const [provider] = readYaml(yamlFiles('dashboards')[0]!).providers as Json[];
    expect(provider).toMatchObject({ type: 'file', options: { path: '/var/lib/grafana/dashboards' } });
    for (const file of ['docker-compose.yml', 'docker-compose.cluster.yml']) {
      const compose = parse(fs.readFileSync(path.join(ROOT, file), 'utf8')) as Json;
      expect(compose.services.grafana.volumes, file).toContain('./grafana/dashboards:/var/lib/grafana/dashboards:ro');
    }
  });
});

describe('dashboards', () => {
  it('are the three expected ones, with unique uids, and the committed JSON is what the code generates', () => {
    expect([...byUid.keys()].sort()).toEqual(['audit-activity-feed', 'audit-overview', 'audit-service-health']);
    expect(staleDashboards()).toEqual([]);
  });

  for (const { file, json: d } of dashboards) {
    it(`${file}: panel ids are unique and panels tile a 24-column grid without overlapping`, () => {
      const panels = d.panels as Json[];
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const p of panels) {
        const g = p.gridPos;
        expect(Number.isInteger(g.x) && Number.isInteger(g.y) && g.w > 0 && g.h > 0 && g.x >= 0 && g.x + g.w <= 24, p.title).toBe(true);
      }
      for (let i = 0; i < panels.length; i++) {
        for (let j = i + 1; j < panels.length; j++) {
          expect(overlaps(panels[i]!.gridPos, panels[j]!.gridPos), `${panels[i]!.title} / ${panels[j]!.title}`).toBe(false);
        }
      }
    });

    it(`${file}: every datasource reference is a provisioned uid of the right type`, () => {
      for (const { where, ref } of datasourceRefs(d)) {
        expect(uidType.get(ref?.uid), where).toBe(ref?.type);
      }
    });

    it(`${file}: every variable a query uses is defined, and links land on real dashboards and variables`, () => {
      const names = new Set((d.templating.list as Json[]).map((v) => v.name));
      expect(names.size).toBe(d.templating.list.length);
      const texts = (d.panels as Json[]).flatMap((p) => (p.targets as Json[]).map((t) => String(t.rawSql ?? t.expr)));
      texts.push(...(d.templating.list as Json[]).map((v) => String(typeof v.query === 'string' ? v.query : v.query?.query ?? '')));
      for (const text of texts) {
        for (const [, a, b] of text.matchAll(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g)) {
          const name = (a ?? b)!;
          if (!name.startsWith('__')) expect(names.has(name), `$${name} in ${text.slice(0, 80)}`).toBe(true);
        }
      }
      for (const p of d.panels as Json[]) {
        for (const o of p.fieldConfig?.overrides ?? []) {
          for (const prop of o.properties as Json[]) {
            if (prop.id !== 'links') continue;
            for (const link of prop.value as Json[]) {
              const m = /^\/d\/([\w-]+)\/[\w-]+\?(.*)$/.exec(link.url);
              expect(m, link.url).not.toBeNull();
              const target = byUid.get(m![1]!);
              expect(target, link.url).toBeDefined();
              const targetVars = new Set((target!.templating.list as Json[]).map((v) => v.name));
              for (const [, v] of m![2]!.matchAll(/var-(\w+)=/g)) expect(targetVars.has(v!), `${link.url}: var-${v}`).toBe(true);
            }
          }
        }
      }
    });
  }

  it("avoid what the plugin's two macro engines (v4 releases, current main) expand differently", () => {
    // main blanks comments and has its own $__timeFrom/$__timeTo/$__timeGroup/$__interval; the v4
    // releases do not. Queries without these constructs expand the same under both.
    const sqls = dashboards.flatMap(({ json }) => [
      ...(json.panels as Json[]).flatMap((p) => (p.targets as Json[]).map((t) => t.rawSql).filter(Boolean)),
      ...(json.templating.list as Json[]).filter((v) => typeof v.query === 'string' && v.datasource?.type !== 'prometheus').map((v) => v.query),
    ]);
    sqls.push(...(alerting['audit-rules.yaml']!.groups as Json[]).flatMap((g) => (g.rules as Json[]).flatMap((r) =>
      (r.data as Json[]).map((q) => q.model.rawSql).filter(Boolean))));
    expect(sqls.length).toBeGreaterThan(20);
    for (const sql of sqls as string[]) {
      expect(sql).not.toMatch(/--|\/\*/);
      expect(sql).not.toMatch(/\$__(timeFrom|timeTo|timeGroup|interval|interval_ms|table|column)\b/);
      expect(sql).not.toMatch(/\$__\w+\(\s*\)/);
      // No macro inside a string literal (main and v4 both expand it there, but readers would not expect it).
      for (const [literal] of sql.matchAll(/'[^']*'/g)) expect(literal).not.toContain('$__');
    }
  });

  it('have what the issue asks of each: overview variables, a 30 s live feed with its filters', () => {
    const overview = byUid.get('audit-overview')!;
    expect((overview.templating.list as Json[]).map((v) => v.name)).toEqual(['tenant', 'severity']);
    const feed = byUid.get('audit-activity-feed')!;
    expect(feed.refresh).toBe('30s');
    expect((feed.templating.list as Json[]).map((v) => v.name)).toEqual(
      expect.arrayContaining(['tenant', 'user', 'activity_type', 'severity', 'q']),
    );
    expect((feed.panels as Json[]).some((p) => p.type === 'table')).toBe(true);
    const health = byUid.get('audit-service-health')!;
    expect((health.panels as Json[]).every((p) => p.datasource.type === 'prometheus')).toBe(true);
  });
});

describe('Service health PromQL', () => {
  const exprs = (byUid.get('audit-service-health')!.panels as Json[]).flatMap((p) =>
    (p.targets as Json[]).map((t) => ({ title: p.title as string, expr: t.expr as string })),
  );
  // What Grafana substitutes before the query reaches Prometheus.
  const concrete = (e: string) => e.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*');

  it('every expression is valid PromQL (promtool check rules)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'promql-'));
    const file = path.join(dir, 'panels.yml');
    const rules = exprs.map((e, i) => ({ record: `audithouse:panel_${i}`, expr: concrete(e.expr) }));
    fs.writeFileSync(file, stringify({ groups: [{ name: 'service-health-panels', rules }] }));
    const out = execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8', timeout: 20_000 });
    expect(out).toContain(`SUCCESS: ${rules.length} rules found`);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('every metric it reads is one the service exports', async () => {
    const metrics = createMetrics();
    // Histograms and labelled series appear in the exposition once observed.
    metrics.ingestBatchSize.observe(1);
    metrics.queryDuration.observe({ operation: 'list' }, 0.01);
    metrics.httpDuration.observe({ route: '/x', method: 'GET' }, 0.01);
    const text = await metrics.registry.metrics();
    const exported = new Set([...text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{|\s)/gm)].map((m) => m[1]!));
    for (const [, name] of text.matchAll(/^# TYPE (\S+) /gm)) exported.add(name!);
    const used = new Set(exprs.flatMap((e) => [...concrete(e.expr).matchAll(/\b((?:audit|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1]!)));
    expect(used.size).toBeGreaterThanOrEqual(10);
    for (const name of used) expect(exported.has(name), name).toBe(true);
    for (const required of ['audit_activities_total', 'audit_http_request_duration_seconds_bucket', 'audit_ingest_batch_size_bucket',
      'audit_spool_events', 'audit_retention_deleted_total', 'audit_storage_size_bytes', 'audit_http_requests_total',
      'audit_retention_last_success_timestamp_seconds']) {
      expect(used.has(required), required).toBe(true);
    }
  });
});

describe('alerting provisioning', () => {
  const rules = (alerting['audit-rules.yaml']!.groups as Json[]).flatMap((g) => g.rules as Json[]);

  it('rules query provisioned datasources, their condition exists, and they point at real panels', () => {
    for (const rule of rules) {
      const refIds = (rule.data as Json[]).map((q) => q.refId);
      expect(refIds, rule.title).toContain(rule.condition);
      for (const q of rule.data as Json[]) {
        if (q.datasourceUid === '__expr__') {
          expect(q.model.datasource).toEqual({ type: '__expr__', uid: '__expr__' });
          expect(refIds, rule.title).toContain(q.model.expression);
        } else {
          expect(uidType.get(q.datasourceUid), rule.title).toBe(q.model.datasource.type);
          expect(q.model.datasource.uid).toBe(q.datasourceUid);
          expect(q.relativeTimeRange.from).toBeGreaterThan(q.relativeTimeRange.to);
        }
      }
      const board = byUid.get(rule.dashboardUid);
      const panel = (board?.panels as Json[] | undefined)?.find((p) => p.id === rule.panelId);
      expect(panel?.title, rule.title).toBe(
        { 'audit-failed-login-burst': 'Failures by activity type', 'audit-critical-event': 'Latest HIGH and CRITICAL events' }[rule.uid as string],
      );
      expect(rule.noDataState).toBe('OK');
    }
  });

  it('labels and annotations carry no "$": provisioning would read it as an environment variable', () => {
    for (const rule of rules) {
      for (const text of [...Object.values(rule.labels ?? {}), ...Object.values(rule.annotations ?? {})]) {
        expect(String(text), rule.title).not.toContain('$');
      }
    }
  });

  it('the notification policy routes to a provisioned contact point', () => {
    const points = (alerting['contact-points.yaml']!.contactPoints as Json[]).map((c) => c.name);
    const [policy] = alerting['notification-policies.yaml']!.policies as Json[];
    expect(points).toContain(policy!.receiver);
    expect(policy!.group_by).toContain('tenant_id');
    const [receiver] = (alerting['contact-points.yaml']!.contactPoints as Json[])[0]!.receivers as Json[];
    expect(receiver!.settings.url).toBe('${AUDIT_ALERT_WEBHOOK_URL}');
  });
});
