// What Grafana and the ClickHouse plugin (grafana-clickhouse-datasource v4.x) do to a panel's SQL
// before ClickHouse sees it, mirrored so the tests can run every provisioned query for real:
//   1. browser: $__conditionalAll(...) (plugin, CHDatasource.applyConditionalAll), then
//      templateSrv.replace with the plugin's format function (dashboard variables, $__interval...);
//   2. backend: the plugin's macros through sqlutil.Interpolate (grafana-plugin-sdk-go, the
//      sqlds-era scanner used by the v4 releases): $__timeFilter, $__timeInterval, $__fromTime...
// Alert rules run only step 2: the browser never sees them.
// Ported from pkg/macros/macros.go, sdk data/sqlutil/macros.go and src/data/CHDatasource.ts.

export interface TimeRange {
  /** Epoch milliseconds. */
  from: number;
  to: number;
}

export interface BackendQuery {
  rawSql: string;
  timeRange: TimeRange;
  /** DataQuery.Interval in milliseconds. */
  intervalMs: number;
  table?: string;
  column?: string;
}

export class MacroError extends Error {}

// ---------------------------------------------------------------------------------------------
// Backend: plugin macros (pkg/macros/macros.go) merged over sqlutil.DefaultMacros.

const pad = (n: number) => String(n).padStart(2, '0');
/** Go time.Format("2006-01-02") in the Grafana server's zone: UTC in the stock image. */
const timeToDate = (ms: number) => {
  const d = new Date(ms);
  return `toDate('${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}')`;
};
/** t.Unix(): floor to whole seconds. */
const timeToDateTime = (ms: number) => `toDateTime(${Math.floor(ms / 1000)})`;
const timeToDateTime64 = (ms: number) => `fromUnixTimestamp64Milli(${Math.trunc(ms)})`;
const rfc3339 = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

const expectArgs = (name: string, args: string[] | null, n: number) => {
  const got = args?.length ?? 0;
  if (got !== n) throw new MacroError(`macro $__${name}: unexpected number of arguments: expected ${n} argument${n > 1 ? 's' : ''}, received ${got}`);
  return args!;
};

/** Go int(math.Max(x, 1)): at least 1, truncated. */
const intervalSeconds = (q: BackendQuery) => Math.trunc(Math.max(q.intervalMs / 1000, 1));

/** gtime.FormatInterval: the largest whole unit, truncated. */
function formatInterval(ms: number): string {
  const units: Array<[string, number]> = [['y', 31_536_000_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  for (const [u, size] of units) if (ms >= size) return `${Math.trunc(ms / size)}${u}`;
  return ms >= 1 ? `${Math.trunc(ms)}ms` : '1ms';
}

type MacroFn = (q: BackendQuery, args: string[] | null) => string;

const DEFAULT_MACROS: Record<string, MacroFn> = {
  interval: (q) => formatInterval(q.intervalMs),
  interval_ms: (q) => String(Math.trunc(q.intervalMs)),
  // (the SDK's default timeFilter is overridden by the plugin's, below)
  timeFrom: (q, a) => `${expectArgs('timeFrom', a, 1)[0]} >= '${rfc3339(q.timeRange.from)}'`,
  timeTo: (q, a) => `${expectArgs('timeTo', a, 1)[0]} <= '${rfc3339(q.timeRange.to)}'`,
  timeGroup: () => {
    // The SDK's default emits SQL Server datepart(...) syntax, which ClickHouse rejects.
    throw new MacroError('$__timeGroup is the SDK default (datepart syntax) in the v4 plugin: not valid ClickHouse SQL');
  },
  table: (q) => q.table ?? '',
  column: (q) => q.column ?? '',
};

const CLICKHOUSE_MACROS: Record<string, MacroFn> = {
  fromTime: (q) => timeToDateTime(q.timeRange.from),
  toTime: (q) => timeToDateTime(q.timeRange.to),
  fromTime_ms: (q) => timeToDateTime64(q.timeRange.from),
  toTime_ms: (q) => timeToDateTime64(q.timeRange.to),
  timeFilter: (q, a) => {
    const [c] = expectArgs('timeFilter', a, 1);
    return `${c} >= ${timeToDateTime(q.timeRange.from)} AND ${c} <= ${timeToDateTime(q.timeRange.to)}`;
  },
  timeFilter_ms: (q, a) => {
    const [c] = expectArgs('timeFilter_ms', a, 1);
    return `${c} >= ${timeToDateTime64(q.timeRange.from)} AND ${c} <= ${timeToDateTime64(q.timeRange.to)}`;
  },
  dateFilter: (q, a) => {
    const [c] = expectArgs('dateFilter', a, 1);
    return `${c} >= ${timeToDate(q.timeRange.from)} AND ${c} <= ${timeToDate(q.timeRange.to)}`;
  },
  dateTimeFilter: (q, a) => dateTimeFilter('dateTimeFilter', q, a),
  dt: (q, a) => dateTimeFilter('dt', q, a),
  timeInterval: (q, a) => `toStartOfInterval(toDateTime(${expectArgs('timeInterval', a, 1)[0]}), INTERVAL ${intervalSeconds(q)} second)`,
  timeInterval_ms: (q, a) =>
    `toStartOfInterval(toDateTime64(${expectArgs('timeInterval_ms', a, 1)[0]}, 3), INTERVAL ${Math.trunc(Math.max(q.intervalMs, 1))} millisecond)`,
  interval_s: (q) => String(intervalSeconds(q)),
};

function dateTimeFilter(name: string, q: BackendQuery, a: string[] | null): string {
  const [dateCol, timeCol] = expectArgs(name, a, 2);
  const d = `(${dateCol} >= ${timeToDate(q.timeRange.from)} AND ${dateCol} <= ${timeToDate(q.timeRange.to)})`;
  const t = `(${timeCol} >= ${timeToDateTime(q.timeRange.from)} AND ${timeCol} <= ${timeToDateTime(q.timeRange.to)})`;
  return `${d} AND ${t}`;
}

export const MACROS: Record<string, MacroFn> = { ...DEFAULT_MACROS, ...CLICKHOUSE_MACROS };

/** sqlutil parseArgs: depth counting, not quote-aware; returns [args, consumed] or [null, 0|-1]. */
function parseArgs(argString: string): [string[] | null, number] {
  if (!argString.startsWith('(')) return [null, 0];
  const args: string[] = [];
  let depth = 0;
  let arg = '';
  for (let i = 0; i < argString.length; i++) {
    const r = argString[i]!;
    if (r === '(') {
      depth++;
      if (depth === 1) continue; // the outer parenthesis is not part of an argument
    } else if (r === ')') {
      depth--;
      if (depth === 0) {
        args.push(arg.trim());
        return [args, i + 1];
      }
    } else if (r === ',' && depth === 1) {
      args.push(arg.trim());
      arg = '';
      continue;
    }
    arg += r;
  }
  return [null, -1];
}

/** sqlutil.Interpolate: longest names first; each match replaced everywhere (strings.ReplaceAll). */
export function interpolateMacros(q: BackendQuery): string {
  let sql = q.rawSql;
  const keys = Object.keys(MACROS).sort((a, b) => b.length - a.length);
  for (const key of keys) {
    const re = new RegExp(`\\$__${key}\\b`, 'g');
    const matches: Array<{ full: string; args: string[] | null }> = [];
    for (const m of sql.matchAll(re)) {
      const end = m.index + m[0].length;
      const [args, length] = parseArgs(sql.slice(end));
      if (length < 0) throw new MacroError('failed to parse macro arguments (missing close bracket?)');
      matches.push({ full: sql.slice(m.index, end + length), args });
    }
    for (const match of matches) sql = sql.replaceAll(match.full, MACROS[key]!(q, match.args));
  }
  return sql;
}

// ---------------------------------------------------------------------------------------------
// Browser: dashboard variables.

export interface VariableValue {
  name: string;
  /** A multi-value variable's selection is an array; '$__all' (or ['$__all']) means All. */
  value: string | string[];
  /** Every option of the variable, used when All is selected. */
  options?: string[];
  allValue?: string;
}

/** CHDatasource.applyConditionalAll, verbatim semantics (last occurrence first, untrimmed phrase). */
export function applyConditionalAll(rawQuery: string, vars: VariableValue[]): string {
  if (!rawQuery) return rawQuery;
  const macro = '$__conditionalAll(';
  let macroIndex = rawQuery.lastIndexOf(macro);
  while (macroIndex !== -1) {
    const params = getMacroArgs(rawQuery, macroIndex + macro.length - 1);
    if (params.length !== 2) return rawQuery;
    const templateVarParam = params[1]!.trim();
    const templateVar = /(?<=\$\{)[\w\d]+(?=\})|(?<=\$)[\w\d]+/.exec(templateVarParam);
    let phrase = params[0]!;
    if (templateVar) {
      const key = vars.find((x) => x.name === templateVar[0]);
      const value = key === undefined ? undefined : String(key.value);
      if (value === '' || value === '$__all') phrase = '1=1';
    }
    rawQuery = rawQuery.replace(`${macro}${params[0]},${params[1]})`, phrase);
    macroIndex = rawQuery.lastIndexOf(macro);
  }
  return rawQuery;
}

function getMacroArgs(query: string, argsIndex: number): string[] {
  const args: string[] = [];
  const re = /\(|\)|,/g;
  let bracketCount = 0;
  let lastArgEndIndex = 1;
  const argsSubstr = query.substring(argsIndex, query.length);
  let m: RegExpExecArray | null;
  while ((m = re.exec(argsSubstr)) !== null) {
    const foundNode = m[0];
    if (foundNode === '(') bracketCount++;
    else if (foundNode === ')') bracketCount--;
    if (foundNode === ',' && bracketCount === 1) {
      args.push(argsSubstr.substring(lastArgEndIndex, re.lastIndex - 1));
      lastArgEndIndex = re.lastIndex;
    }
    if (bracketCount === 0) {
      args.push(argsSubstr.substring(lastArgEndIndex, re.lastIndex - 1));
      return args;
    }
  }
  return [];
}

/** Grafana's encodeURIComponentStrict (the `percentencode` format). */
export const encodeURIComponentStrict = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Variable formats used by our dashboards and links (Grafana's formatRegistry). */
function formatValue(value: string | string[], format: string | undefined, name: string, dsFormat: (v: string | string[]) => string): string {
  const list = Array.isArray(value) ? value : [value];
  switch (format) {
    case undefined:
      return dsFormat(value);
    case 'raw':
      return list.join(',');
    case 'csv':
      return list.join(',');
    case 'singlequote':
      return list.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(',');
    case 'sqlstring':
      return list.map((v) => `'${v.replace(/'/g, "''")}'`).join(',');
    case 'percentencode':
      return Array.isArray(value) ? encodeURIComponentStrict(`{${value.join(',')}}`) : encodeURIComponentStrict(value);
    case 'queryparam':
      return list.map((v) => `var-${name}=${encodeURIComponentStrict(v)}`).join('&');
    default:
      throw new Error(`variable format "${format}" is not mirrored in this test helper`);
  }
}

/** The ClickHouse datasource's format(): arrays become 'a','b'; a single value goes in raw. */
export const clickHouseFormat = (v: string | string[]) => (Array.isArray(v) ? `'${v.join("','")}'` : v);

const VARIABLE_RE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^}]+))?(?::([^}]+))?}/g;

/** templateSrv.replace: dashboard variables and built-ins; unknown names are left as written. */
export function replaceVariables(
  text: string,
  vars: VariableValue[],
  builtins: Record<string, string>,
  dsFormat: (v: string | string[]) => string = clickHouseFormat,
): string {
  return text.replace(VARIABLE_RE, (match, v1, v2, fmt2, v4, _fieldPath, fmt3) => {
    const name: string = v1 ?? v2 ?? v4;
    const fmt: string | undefined = fmt2 ?? fmt3;
    if (name in builtins) return builtins[name]!;
    const variable = vars.find((v) => v.name === name);
    if (!variable) return match;
    const isAll = String(variable.value) === '$__all';
    if (isAll) {
      // A custom all value goes in as written; otherwise every option, formatted.
      if (variable.allValue !== undefined) return variable.allValue;
      return formatValue(variable.options ?? [], fmt, name, dsFormat);
    }
    return formatValue(variable.value, fmt, name, dsFormat);
  });
}

/** A dashboard panel's SQL as ClickHouse receives it. */
export function panelSql(rawSql: string, vars: VariableValue[], q: Omit<BackendQuery, 'rawSql'>): string {
  const builtins = {
    __interval: formatInterval(q.intervalMs),
    __interval_ms: String(q.intervalMs),
    __from: String(q.timeRange.from),
    __to: String(q.timeRange.to),
    __range_s: String(Math.round((q.timeRange.to - q.timeRange.from) / 1000)),
  };
  const browser = replaceVariables(applyConditionalAll(rawSql, vars), vars, builtins);
  return interpolateMacros({ ...q, rawSql: browser });
}

/** An alert rule's SQL as ClickHouse receives it: backend macros only. */
export function alertSql(rawSql: string, q: Omit<BackendQuery, 'rawSql'>): string {
  return interpolateMacros({ ...q, rawSql });
}

/** Grafana's interval for a panel: range / max data points, rounded, never below the panel's min interval. */
export function panelIntervalMs(range: TimeRange, minInterval: string | undefined, maxDataPoints = 1000): number {
  const auto = Math.max(1, Math.round((range.to - range.from) / maxDataPoints));
  if (!minInterval) return auto;
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(minInterval);
  if (!m) throw new Error(`bad interval "${minInterval}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.max(auto, Number(m[1]) * unit);
}
