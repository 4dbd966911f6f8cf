// The kit's panels (stat, time series, table, bar chart), each as a PanelSpec for layout() in
// kit.ts. A severity is colored the same way on every panel of every dashboard.
import { CLICKHOUSE, PROMETHEUS, type Json, type PanelSpec } from './kit.ts';

const thresholds = (steps: Array<[string, number | null]>) => ({
  mode: 'absolute',
  steps: steps.map(([color, value]) => ({ color, value })),
});

export const SEVERITY_COLORS = { LOW: 'green', MEDIUM: 'yellow', HIGH: 'orange', CRITICAL: 'red' } as const;

const severityMappings = [
  {
    type: 'value',
    options: Object.fromEntries(Object.entries(SEVERITY_COLORS).map(([k, color], index) => [k, { color, index }])),
  },
];

/** What every panel starts with, in this order: its type, title, width, description if any, datasource. */
function head(type: string, o: { title: string; w: number; description?: string; datasource?: typeof CLICKHOUSE | typeof PROMETHEUS }) {
  return {
    type,
    title: o.title,
    w: o.w,
    ...(o.description ? { description: o.description } : {}),
    datasource: o.datasource ?? CLICKHOUSE,
  };
}

export function stat(o: {
  title: string;
  w: number;
  targets: Json[];
  unit?: string;
  description?: string;
  /** Value from which the number turns red (else it stays neutral). */
  redFrom?: number;
  datasource?: typeof CLICKHOUSE | typeof PROMETHEUS;
}): PanelSpec {
  return {
    ...head('stat', o),
    targets: o.targets,
    fieldConfig: {
      defaults: {
        unit: o.unit ?? 'short',
        color: { mode: 'thresholds' },
        thresholds: thresholds(o.redFrom === undefined ? [['text', null]] : [['green', null], ['red', o.redFrom]]),
      },
      overrides: [],
    },
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      colorMode: 'value',
      graphMode: 'none',
      justifyMode: 'auto',
      textMode: 'auto',
      orientation: 'auto',
    },
  };
}

export function timeseries(o: {
  title: string;
  w: number;
  targets: Json[];
  unit?: string;
  description?: string;
  /** Minimum interval: raises $__interval / the plugin's $__timeInterval bucket. */
  interval?: string;
  /** Stacked bars (counts) instead of lines (rates, ratios, latencies). */
  bars?: boolean;
  /** Series name from a label of the long-format result, e.g. "${__field.labels.severity}". */
  displayName?: string;
  colorBySeverity?: boolean;
  datasource?: typeof CLICKHOUSE | typeof PROMETHEUS;
}): PanelSpec {
  const custom = o.bars
    ? { drawStyle: 'bars', fillOpacity: 80, lineWidth: 1, stacking: { mode: 'normal', group: 'A' }, showPoints: 'never' }
    : { drawStyle: 'line', fillOpacity: 10, lineWidth: 1, stacking: { mode: 'none', group: 'A' }, showPoints: 'never', spanNulls: true };
  const overrides = o.colorBySeverity
    ? Object.entries(SEVERITY_COLORS).map(([sev, color]) => ({
        matcher: { id: 'byName', options: sev },
        properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: color } }],
      }))
    : [];
  return {
    ...head('timeseries', o),
    ...(o.interval ? { interval: o.interval } : {}),
    targets: o.targets,
    fieldConfig: {
      defaults: { unit: o.unit ?? 'short', custom, ...(o.displayName ? { displayName: o.displayName } : {}) },
      overrides,
    },
    options: {
      legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
  };
}

/** Stacked bars per interval, one series per value of the `label` column of the long-format result. */
export function barsBy(label: string, o: Omit<Parameters<typeof timeseries>[0], 'bars' | 'displayName'>): PanelSpec {
  return timeseries({ ...o, bars: true, displayName: `\${__field.labels.${label}}` });
}

export interface ColumnLink {
  /** Result column the link sits on. */
  column: string;
  title: string;
  url: string;
}

export function table(o: {
  title: string;
  w: number;
  targets: Json[];
  description?: string;
  links?: ColumnLink[];
  /** Columns shown with their unit, e.g. { failure_rate: 'percentunit' }. */
  units?: Record<string, string>;
  /** Column widths in pixels. */
  widths?: Record<string, number>;
}): PanelSpec {
  const overrides: Json[] = [];
  for (const l of o.links ?? []) {
    overrides.push({ matcher: { id: 'byName', options: l.column }, properties: [{ id: 'links', value: [{ title: l.title, url: l.url }] }] });
  }
  for (const [column, unit] of Object.entries(o.units ?? {})) {
    overrides.push({ matcher: { id: 'byName', options: column }, properties: [{ id: 'unit', value: unit }] });
  }
  for (const [column, width] of Object.entries(o.widths ?? {})) {
    overrides.push({ matcher: { id: 'byName', options: column }, properties: [{ id: 'custom.width', value: width }] });
  }
  // A severity column, wherever it appears, is colored the same way on every dashboard.
  overrides.push({
    matcher: { id: 'byName', options: 'severity' },
    properties: [
      { id: 'mappings', value: severityMappings },
      { id: 'custom.cellOptions', value: { type: 'color-text' } },
    ],
  });
  return {
    ...head('table', o),
    targets: o.targets,
    fieldConfig: { defaults: { custom: { align: 'auto', filterable: true, cellOptions: { type: 'auto' } } }, overrides },
    options: { showHeader: true, cellHeight: 'sm', footer: { show: false, reducer: ['sum'], countRows: false } },
  };
}

/** Horizontal bars: one string column (xField) and numeric columns. */
export function barchart(o: { title: string; w: number; targets: Json[]; xField: string; description?: string }): PanelSpec {
  return {
    ...head('barchart', o),
    targets: o.targets,
    fieldConfig: { defaults: { unit: 'short', color: { mode: 'palette-classic' }, custom: { fillOpacity: 80, lineWidth: 1 } }, overrides: [] },
    options: {
      xField: o.xField,
      orientation: 'horizontal',
      showValue: 'auto',
      barWidth: 0.8,
      groupWidth: 0.7,
      legend: { displayMode: 'list', placement: 'bottom', showLegend: false },
      tooltip: { mode: 'single', sort: 'none' },
    },
  };
}
