// The production stack as Docker Compose would read it (there is no Docker here): the compose
// file parses, images are pinned, every bind mount exists, the pieces point at each other
// (env vars the provisioning reads are set, the Dockerfile runs the service), and the read-only
// ClickHouse user for Grafana is what its XML says.
import fs from 'node:fs';
import path from 'node:path';
import { DOMParser } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = path.resolve(import.meta.dirname, '../..');
type Json = Record<string, any>;
const compose = parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { strict: true, uniqueKeys: true }) as Json;
const services = compose.services as Record<string, Json>;

/** "./host:/container[:ro]" bind mounts of a service. */
const binds = (s: Json) =>
  ((s.volumes ?? []) as string[]).filter((v) => v.startsWith('./')).map((v) => {
    const [host, container, mode] = v.split(':');
    return { host: host!, container: container!, mode };
  });

/** ${VAR} references in the values of a YAML file (Grafana's provisioning expands values only). */
function envRefs(text: string): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(...[...v.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(parse(text));
  return out;
}

describe('docker-compose.yml', () => {
  it('has the four services, each image pinned to a version', () => {
    expect(Object.keys(services).sort()).toEqual(['audithouse', 'clickhouse', 'grafana', 'prometheus']);
    for (const [name, s] of Object.entries(services)) {
      if (s.build) continue;
      expect(s.image, name).toMatch(/^[\w./-]+:v?\d+\.\d+\.\d+(\.\d+)?$/);
    }
    expect(services.clickhouse!.image).toMatch(/^clickhouse\/clickhouse-server:/);
    expect(services.grafana!.image).toMatch(/^grafana\/grafana:/);
    expect(services.prometheus!.image).toMatch(/^prom\/prometheus:/);
  });

  it('mounts only paths that exist in the repository, read-only', () => {
    const all = Object.entries(services).flatMap(([name, s]) => binds(s).map((b) => ({ name, ...b })));
    expect(all.length).toBeGreaterThanOrEqual(4);
    for (const b of all) {
      expect(fs.existsSync(path.join(ROOT, b.host)), `${b.name}: ${b.host}`).toBe(true);
      expect(b.mode, `${b.name}: ${b.host}`).toBe('ro');
    }
    const named = Object.values(services).flatMap((s) => ((s.volumes ?? []) as string[]).filter((v) => !v.startsWith('./')).map((v) => v.split(':')[0]));
    for (const v of named) expect(Object.keys(compose.volumes), v!).toContain(v);
  });

  it('runs ClickHouse with a healthcheck, nofile ulimits and credentials from the environment', () => {
    const ch = services.clickhouse!;
    expect(ch.healthcheck.test.join(' ')).toContain('/ping');
    expect(ch.ulimits.nofile).toEqual({ soft: 262144, hard: 262144 });
    expect(ch.environment).toMatchObject({ CLICKHOUSE_DB: 'audit', CLICKHOUSE_USER: expect.stringMatching(/^\$\{CLICKHOUSE_USER/) });
    expect(ch.environment.CLICKHOUSE_PASSWORD).toMatch(/^\$\{CLICKHOUSE_PASSWORD/);
    expect(binds(ch).map((b) => b.container)).toContain('/etc/clickhouse-server/users.d/grafana-readonly.xml');
  });

  it('builds the service from the Dockerfile, pointed at the ClickHouse server after it is healthy', () => {
    const svc = services.audithouse!;
    expect(svc.build).toBe('.');
    expect(svc.depends_on.clickhouse.condition).toBe('service_healthy');
    expect(svc.environment).toMatchObject({ CLICKHOUSE_URL: 'http://clickhouse:8123', CLICKHOUSE_DATABASE: 'audit', AUDIT_DATA_DIR: '/data' });
    expect(svc.environment.CLICKHOUSE_PASSWORD).toBe(services.clickhouse!.environment.CLICKHOUSE_PASSWORD);
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20[\w.-]*$/m);
    expect(dockerfile).toMatch(/^RUN \(?npm ci --omit=dev\b/m);
    expect(dockerfile).toContain('CMD ["node", "bin/audithouse.js", "serve"]');
    // Everything the image copies exists.
    for (const [, src] of dockerfile.matchAll(/^COPY (\S+)/gm)) expect(fs.existsSync(path.join(ROOT, src!)), src).toBe(true);
  });

  it('gives Grafana the pinned plugin, the provisioning, and every variable the provisioning reads', () => {
    const g = services.grafana!;
    expect(g.environment.GF_PLUGINS_PREINSTALL_SYNC).toMatch(/^grafana-clickhouse-datasource@\d+\.\d+\.\d+$/);
    expect(binds(g).map((b) => `${b.host}:${b.container}`)).toContain('./grafana/provisioning:/etc/grafana/provisioning');
    const dir = path.join(ROOT, 'grafana/provisioning');
    const files = fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.ya?ml$/.test(f));
    const wanted = new Set(files.flatMap((f) => envRefs(fs.readFileSync(path.join(dir, f), 'utf8'))));
    expect([...wanted].sort()).toEqual(['AUDIT_ALERT_WEBHOOK_URL', 'CLICKHOUSE_GRAFANA_PASSWORD', 'CLICKHOUSE_GRAFANA_USER', 'CLICKHOUSE_HOST']);
    for (const v of wanted) expect(g.environment[v], v).toBeDefined();
    // Grafana and the ClickHouse server agree on the read-only user's password.
    expect(g.environment.CLICKHOUSE_GRAFANA_PASSWORD).toBe(services.clickhouse!.environment.CLICKHOUSE_GRAFANA_PASSWORD);
  });

  it('has Prometheus load prometheus/prometheus.yml and its rules, scraping the service', () => {
    const p = services.prometheus!;
    expect(binds(p).map((b) => `${b.host}:${b.container}`)).toContain('./prometheus:/etc/prometheus');
    expect(p.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    const config = parse(fs.readFileSync(path.join(ROOT, 'prometheus/prometheus.yml'), 'utf8')) as Json;
    const targets = (config.scrape_configs as Json[]).flatMap((s) => (s.static_configs as Json[]).flatMap((c) => c.targets as string[]));
    expect(targets).toContain('audithouse:8080');
    // Rule files resolve relative to the config file, i.e. inside the mounted folder, and exist.
    const rules = (config.rule_files as string[]).flatMap((glob) => {
      expect(path.isAbsolute(glob) ? glob.startsWith('/etc/prometheus/') : true, glob).toBe(true);
      const dir = path.join(ROOT, 'prometheus', path.dirname(glob.replace(/^\/etc\/prometheus\//, '')));
      const re = new RegExp(`^${path.basename(glob).replace('.', '\\.').replace('*', '.*')}$`);
      return fs.readdirSync(dir).filter((f) => re.test(f));
    });
    expect(rules.length).toBeGreaterThan(0);
  });
});

describe('docker-compose.cluster.yml', () => {
  // YAML merge keys (<<: *clickhouse) as Compose applies them.
  const cluster = parse(fs.readFileSync(path.join(ROOT, 'docker-compose.cluster.yml'), 'utf8'), { merge: true }) as Json;
  const cs = cluster.services as Record<string, Json>;

  it('mounts only paths that exist, and gives Grafana and every ClickHouse node what the provisioning needs', () => {
    for (const [name, s] of Object.entries(cs)) {
      for (const b of binds(s)) expect(fs.existsSync(path.join(ROOT, b.host)), `${name}: ${b.host}`).toBe(true);
    }
    const g = cs.grafana!;
    expect(g.environment.GF_PLUGINS_PREINSTALL_SYNC).toBe(services.grafana!.environment.GF_PLUGINS_PREINSTALL_SYNC);
    for (const v of ['AUDIT_ALERT_WEBHOOK_URL', 'CLICKHOUSE_GRAFANA_PASSWORD', 'CLICKHOUSE_GRAFANA_USER', 'CLICKHOUSE_HOST']) {
      expect(g.environment[v], v).toBeDefined();
    }
    expect(cs[g.environment.CLICKHOUSE_HOST]).toBeDefined();
    const nodes = Object.entries(cs).filter(([, s]) => String(s.image).startsWith('clickhouse/clickhouse-server'));
    expect(nodes.length).toBe(4);
    for (const [name, s] of nodes) {
      expect(binds(s).map((b) => b.container), name).toContain('/etc/clickhouse-server/users.d/grafana-readonly.xml');
      expect(s.environment.CLICKHOUSE_GRAFANA_PASSWORD, name).toBe(g.environment.CLICKHOUSE_GRAFANA_PASSWORD);
    }
  });
});

describe('ClickHouse users.d/grafana-readonly.xml', () => {
  const text = fs.readFileSync(path.join(ROOT, 'clickhouse/server-config/users.d/grafana-readonly.xml'), 'utf8');
  const errors: string[] = [];
  const doc = new DOMParser({ onError: (level, msg) => { if (level !== 'warning') errors.push(msg); } }).parseFromString(text, 'text/xml');
  const one = (parent: any, tag: string) => {
    const found = [...parent.childNodes].filter((n: any) => n.nodeName === tag);
    expect(found, tag).toHaveLength(1);
    return found[0] as any;
  };

  it('is well-formed XML with a <clickhouse> root', () => {
    expect(errors).toEqual([]);
    expect(doc.documentElement!.nodeName).toBe('clickhouse');
  });

  it('defines user grafana: readonly profile, SELECT on audit only, password from the environment', () => {
    const user = one(one(doc.documentElement, 'users'), 'grafana');
    const password = one(user, 'password');
    expect(password.getAttribute('from_env')).toBe('CLICKHOUSE_GRAFANA_PASSWORD');
    expect(password.textContent.trim()).toBe('');
    const grants = [...one(user, 'grants').childNodes].filter((n: any) => n.nodeName === 'query').map((n: any) => n.textContent.trim());
    expect(grants).toEqual(['GRANT SELECT ON audit.*']);
    const profileName = one(user, 'profile').textContent.trim();
    const profile = one(one(doc.documentElement, 'profiles'), profileName);
    expect(one(profile, 'readonly').textContent.trim()).toBe('1');
    // The plugin sets max_execution_time on every query: it must stay changeable under readonly=1.
    const constraint = one(one(profile, 'constraints'), 'max_execution_time');
    one(constraint, 'changeable_in_readonly');
  });
});
