// AUDIT_SINKS_FILE: where stored events are streamed to (YAML or JSON). Parsed once at start-up
// by loadConfig, like the environment: a bad file stops start-up with messages naming the file,
// the sink and the field. `${VAR}` in any string is replaced from the environment, after
// parsing, so a value cannot change the file's structure; values never appear in a message
// (they are secrets, typically tokens).
import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const SEVERITIES = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
const FORMATS = { webhook: ['ocsf', 'native'], syslog: ['cef', 'json'], 'splunk-hec': ['native', 'ocsf'] } as const;
const DEFAULT_FORMAT = { webhook: 'ocsf', syslog: 'cef', 'splunk-hec': 'native' } as const;
const PROTOCOLS = { webhook: ['http:', 'https:'], syslog: ['tcp:', 'tls:'], 'splunk-hec': ['http:', 'https:'] } as const;

export type SinkType = keyof typeof FORMATS;
export type SinkFormat = 'ocsf' | 'native' | 'cef' | 'json';

const SinkSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 lowercase letters, digits, "-" or "_" (it names the checkpoint and the metric label)'),
  type: z.enum(['webhook', 'syslog', 'splunk-hec']),
  url: z.string().min(1),
  format: z.enum(['ocsf', 'native', 'cef', 'json']).optional(),
  headers: z.record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP header name'), z.string()).optional(),
  /** splunk-hec: the HEC token (sent as "Authorization: Splunk <token>"). */
  token: z.string().min(1).optional(),
  /** splunk-hec: index, sourcetype and source of the events. */
  index: z.string().optional(),
  sourcetype: z.string().optional(),
  source: z.string().optional(),
  filter: z.strictObject({
    tenants: z.array(z.string().min(1)).min(1).optional(),
    min_severity: z.enum(SEVERITIES).optional(),
    activity_types: z.array(z.string().regex(/^[a-z0-9_.*]+$/, 'must be an activity type or a pattern like user.*')).min(1).optional(),
  }).optional(),
  batch: z.strictObject({
    max_events: z.number().int().min(1).max(10_000).default(500),
    max_wait_ms: z.number().int().min(10).max(600_000).default(1_000),
  }).optional(),
  retry: z.strictObject({
    initial_ms: z.number().int().min(10).max(600_000).default(500),
    max_ms: z.number().int().min(10).max(3_600_000).default(60_000),
  }).optional(),
  /** Where a new sink starts: events stored from now on (default), or everything still stored. */
  start: z.enum(['now', 'earliest']).default('now'),
  timeout_ms: z.number().int().min(100).max(600_000).default(10_000),
  /** https:// and tls://: extra trust (a PEM file), or no verification at all (tests only). */
  tls: z.strictObject({ ca_file: z.string().optional(), insecure: z.boolean().default(false) }).optional(),
});

const FileSchema = z.strictObject({ sinks: z.array(SinkSchema).max(64) });

export interface SinkDefinition {
  name: string;
  type: SinkType;
  url: URL;
  format: SinkFormat;
  headers: Record<string, string>;
  token: string | undefined;
  splunk: { index: string | undefined; sourcetype: string; source: string };
  filter: { tenants: string[] | undefined; minSeverity: (typeof SEVERITIES)[number] | undefined; activityTypes: string[] | undefined };
  batch: { maxEvents: number; maxWaitMs: number };
  retry: { initialMs: number; maxMs: number };
  start: 'now' | 'earliest';
  timeoutMs: number;
  tls: { ca: string | undefined; insecure: boolean };
}

/** `${NAME}` → the variable's value; `$${` is a literal `${`. Missing variables are reported, never guessed. */
function expand(value: unknown, env: NodeJS.ProcessEnv, where: string, missing: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (all, escaped: string | undefined, name: string) => {
      if (escaped) return all.slice(1);
      const v = env[name];
      if (v === undefined || v === '') {
        missing.push(`${where}: \${${name}} is not set in the environment`);
        return '';
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expand(v, env, `${where}[${i}]`, missing));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expand(v, env, where ? `${where}.${k}` : k, missing)]));
  }
  return value;
}

/** A URL for logs: scheme, host and path only (no credentials, no query). */
export function safeUrl(u: URL): string {
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}

/** Reads and checks the sinks file. Throws a list of problems (never quoting a value). */
export function loadSinksFile(file: string, env: NodeJS.ProcessEnv): SinkDefinition[] {
  const problems: string[] = [];
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new SinksFileError([`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    // Parser messages quote a line of the file: give the position only.
    const pos = (err as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0];
    throw new SinksFileError([`${file} is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}${pos ? ` (line ${pos.line}, column ${pos.col})` : ''}`]);
  }
  const expanded = expand(raw, env, '', problems);
  const parsed = FileSchema.safeParse(expanded);
  if (!parsed.success) {
    for (const i of parsed.error.issues) problems.push(`${i.path.join('.') || '(top level)'}: ${i.message}`);
  }
  if (problems.length > 0 || !parsed.success) throw new SinksFileError(problems.map((p) => `${file}: ${p}`));

  const names = new Set<string>();
  const out: SinkDefinition[] = [];
  parsed.data.sinks.forEach((s, i) => {
    const at = `${file}: sinks.${i} (${s.name})`;
    if (names.has(s.name)) problems.push(`${at}: the name is used twice`);
    names.add(s.name);
    let url: URL | undefined;
    try {
      url = new URL(s.url);
    } catch {
      problems.push(`${at}.url: not a URL`);
    }
    if (url && !(PROTOCOLS[s.type] as readonly string[]).includes(url.protocol)) {
      problems.push(`${at}.url: a ${s.type} sink takes ${PROTOCOLS[s.type].join(' or ')}//`);
    }
    if (url && s.type === 'syslog' && !url.port) problems.push(`${at}.url: name the port, e.g. tcp://siem.example:6514`);
    const format = s.format ?? DEFAULT_FORMAT[s.type];
    if (!(FORMATS[s.type] as readonly string[]).includes(format)) problems.push(`${at}.format: a ${s.type} sink takes ${FORMATS[s.type].join(' or ')}`);
    if (s.type === 'splunk-hec' && !s.token) problems.push(`${at}.token: a splunk-hec sink needs its HEC token (e.g. token: "\${SPLUNK_HEC_TOKEN}")`);
    let ca: string | undefined;
    if (s.tls?.ca_file) {
      try {
        ca = fs.readFileSync(s.tls.ca_file, 'utf8');
      } catch {
        problems.push(`${at}.tls.ca_file: cannot read the file`);
      }
    }
    if (!url) return;
    out.push({
      name: s.name,
      type: s.type,
      url,
      format,
      headers: s.headers ?? {},
      token: s.token,
      splunk: { index: s.index, sourcetype: s.sourcetype ?? 'audithouse:activity', source: s.source ?? 'audithouse' },
      filter: { tenants: s.filter?.tenants, minSeverity: s.filter?.min_severity, activityTypes: s.filter?.activity_types },
      batch: { maxEvents: s.batch?.max_events ?? 500, maxWaitMs: s.batch?.max_wait_ms ?? 1_000 },
      retry: { initialMs: s.retry?.initial_ms ?? 500, maxMs: s.retry?.max_ms ?? 60_000 },
      start: s.start,
      timeoutMs: s.timeout_ms,
      tls: { ca, insecure: s.tls?.insecure ?? false },
    });
  });
  if (problems.length > 0) throw new SinksFileError(problems);
  return out;
}

export class SinksFileError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'SinksFileError';
  }
}
