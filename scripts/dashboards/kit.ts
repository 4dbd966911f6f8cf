// A small typed kit for the provisioned Grafana dashboards (dashboards as code): panels,
// ClickHouse and Prometheus targets, variables and a row layout that cannot overlap. The JSON it
// produces is committed under grafana/dashboards/ and a test keeps the two in step.
// This file: datasources, targets, layout, variables and the dashboard; the panels are in panels.ts.
import { TENANT_ID_RE } from '../../src/event/patterns.ts';

export const CLICKHOUSE = { type: 'grafana-clickhouse-datasource', uid: 'audithouse-clickhouse' } as const;
export const PROMETHEUS = { type: 'prometheus', uid: 'audithouse-prometheus' } as const;

/** The database the dashboards read: the compose stack's CLICKHOUSE_DATABASE. */
export const DB = 'audit';

export type Json = Record<string, unknown>;

export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Panel extends Json {
  id: number;
  type: string;
  title: string;
  gridPos: GridPos;
}

/** A panel before layout: everything but id and position. */
export type PanelSpec = Omit<Panel, 'id' | 'gridPos'> & { w: number };

// ---------------------------------------------------------------------------------------------
// Targets

/** Plugin query formats (sqlutil FormatQueryOption): 0 time series, 1 table. */
export function sqlTarget(rawSql: string, kind: 'timeSeries' | 'table', refId = 'A'): Json {
  return {
    refId,
    datasource: CLICKHOUSE,
    editorType: 'sql',
    pluginVersion: '',
    queryType: kind,
    format: kind === 'timeSeries' ? 0 : 1,
    rawSql,
  };
}

export function promTarget(expr: string, legendFormat: string, refId: string): Json {
  return { refId, datasource: PROMETHEUS, editorMode: 'code', expr, legendFormat, range: true };
}

// ---------------------------------------------------------------------------------------------
// Layout: rows of panels, left to right; each row as tall as given. Ids follow reading order.

export function layout(rows: Array<{ h: number; panels: PanelSpec[] }>): Panel[] {
  const out: Panel[] = [];
  let y = 0;
  let id = 1;
  for (const row of rows) {
    let x = 0;
    for (const { w, ...panel } of row.panels) {
      if (x + w > 24) throw new Error(`row at y=${y} is wider than 24 columns ("${panel.title}")`);
      out.push({ id: id++, gridPos: { x, y, w, h: row.h }, ...panel } as Panel);
      x += w;
    }
    y += row.h;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Variables

const ALL = { selected: true, text: ['All'], value: ['$__all'] };

export function queryVariable(o: { name: string; label: string; sql: string }): Json {
  return {
    type: 'query',
    name: o.name,
    label: o.label,
    datasource: CLICKHOUSE,
    query: o.sql,
    definition: o.sql,
    refresh: 2, // on time range change: new tenants and types appear without a reload
    multi: true,
    includeAll: true,
    current: ALL,
    options: [],
    sort: 1,
    hide: 0,
  };
}

/** The pattern as a ClickHouse string literal body: it holds no quote or backslash (checked here, at load). */
const TENANT_PATTERN_SQL = (() => {
  if (/['\\]/.test(TENANT_ID_RE.source)) throw new Error('TENANT_ID_RE must not hold a quote or backslash: it is written into dashboard SQL');
  return TENANT_ID_RE.source;
})();

/**
 * The tenant picker offers only ids of the one tenant-id charset (src/event/patterns.ts). The
 * ClickHouse plugin writes a multi-value variable into the SQL as '…' literals without escaping,
 * so one stored "x'y" (accepted before the charset was enforced everywhere, or inserted straight
 * into the table) would break every panel the moment it is picked, or rewrite its SQL. Such a
 * tenant is left out of the list (its rows stay in the table, for an operator to fix in SQL).
 */
export function tenantVariable(table: string): Json {
  return queryVariable({ name: 'tenant', label: 'Tenant', sql: `SELECT DISTINCT tenant_id FROM ${table} WHERE match(tenant_id, '${TENANT_PATTERN_SQL}') ORDER BY tenant_id` });
}

export function customVariable(o: { name: string; label: string; values: readonly string[] }): Json {
  return {
    type: 'custom',
    name: o.name,
    label: o.label,
    query: o.values.join(','),
    multi: true,
    includeAll: true,
    current: ALL,
    options: [
      { selected: true, text: 'All', value: '$__all' },
      ...o.values.map((v) => ({ selected: false, text: v, value: v })),
    ],
    hide: 0,
  };
}

export function textVariable(o: { name: string; label: string; description?: string }): Json {
  return {
    type: 'textbox',
    name: o.name,
    label: o.label,
    ...(o.description ? { description: o.description } : {}),
    query: '',
    current: { selected: false, text: '', value: '' },
    options: [{ selected: true, text: '', value: '' }],
    hide: 0,
  };
}

export function promVariable(o: { name: string; label: string; query: string }): Json {
  return {
    type: 'query',
    name: o.name,
    label: o.label,
    datasource: PROMETHEUS,
    query: { query: o.query, refId: 'PrometheusVariableQueryEditor-VariableQuery', qryType: 1 },
    definition: o.query,
    refresh: 2,
    multi: true,
    includeAll: true,
    allValue: '.*',
    current: ALL,
    options: [],
    sort: 1,
    hide: 0,
  };
}

// ---------------------------------------------------------------------------------------------
// Dashboard

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  time: { from: string; to: string };
  refresh: string;
  variables: Json[];
  panels: Panel[];
}

export function dashboard(d: DashboardSpec): Json {
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: ['audithouse'],
    timezone: 'utc',
    editable: false,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    time: d.time,
    refresh: d.refresh,
    fiscalYearStartMonth: 0,
    liveNow: false,
    annotations: { list: [] },
    links: [{ type: 'dashboards', tags: ['audithouse'], asDropdown: false, includeVars: false, keepTime: true, title: 'Audit dashboards' }],
    templating: { list: d.variables },
    panels: d.panels,
  };
}

/** SQL fragment: the filter a multi-value variable adds, or 1=1 when All (browser-side only). */
export const when = (column: string, variable: string) => `$__conditionalAll(${column} IN ($${variable}), $${variable})`;

/**
 * The tenant filter, safe whatever value `$tenant` holds. The picker offers only well-formed ids
 * (tenantVariable), but a data link or a hand-made URL sets `var-tenant` to anything, and the
 * plugin would write it into the SQL unescaped. So the values arrive percent-encoded (Grafana
 * sends several as "{a,b}"), and ClickHouse decodes and splits them: no quote or backslash can
 * reach the SQL. Tenant ids hold no comma or brace, and ClickHouse folds the constant list into
 * an IN set on the sort key, as it does a literal list.
 */
export const whenTenant = (column: string) =>
  `$__conditionalAll(${column} IN splitByChar(',', trim(BOTH '{}' FROM decodeURLComponent('\${tenant:percentencode}'))), $tenant)`;

/**
 * A free-text variable as a SQL string, safe whatever the user types: percent-encoding leaves
 * only [A-Za-z0-9-_.~%], so no quote or backslash can reach the SQL; ClickHouse decodes it.
 */
export const textValue = (variable: string) => `decodeURLComponent('\${${variable}:percentencode}')`;
