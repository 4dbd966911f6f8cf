// The mirror of Grafana's and the ClickHouse plugin's query interpolation, checked against the
// expected strings of the plugin's own tests (pkg/macros/macros_test.go, the e2e variables test).
import { describe, expect, it } from 'vitest';
import { alertSql, applyConditionalAll, interpolateMacros, MacroError, panelSql, replaceVariables } from '../support/grafana-interpolate.ts';

const timeRange = { from: Date.parse('2014-11-12T11:45:26.371Z'), to: Date.parse('2015-11-12T11:45:26.371Z') };
const q = { timeRange, intervalMs: 20_000 };
const expand = (rawSql: string) => interpolateMacros({ ...q, rawSql });

describe('plugin macros (sqlds-era scanner, v4 releases)', () => {
  it('expands each macro exactly as macros_test.go expects', () => {
    expect(expand('$__fromTime')).toBe('toDateTime(1415792726)');
    expect(expand('$__toTime')).toBe('toDateTime(1447328726)');
    expect(expand('$__fromTime_ms')).toBe('fromUnixTimestamp64Milli(1415792726371)');
    expect(expand('$__toTime_ms')).toBe('fromUnixTimestamp64Milli(1447328726371)');
    expect(expand('$__timeFilter(col)')).toBe('col >= toDateTime(1415792726) AND col <= toDateTime(1447328726)');
    expect(expand('$__dateFilter(dateCol)')).toBe("dateCol >= toDate('2014-11-12') AND dateCol <= toDate('2015-11-12')");
    expect(expand('$__dt(dateCol, timeCol)')).toBe(
      "(dateCol >= toDate('2014-11-12') AND dateCol <= toDate('2015-11-12')) AND (timeCol >= toDateTime(1415792726) AND timeCol <= toDateTime(1447328726))",
    );
    expect(expand('$__timeInterval(col)')).toBe('toStartOfInterval(toDateTime(col), INTERVAL 20 second)');
    expect(expand('$__timeInterval_ms(col)')).toBe('toStartOfInterval(toDateTime64(col, 3), INTERVAL 20000 millisecond)');
    expect(expand('$__interval_s')).toBe('20');
    const ms = { timeRange: { from: 1415792726123, to: 1447328726456 }, intervalMs: 20_000 };
    expect(interpolateMacros({ ...ms, rawSql: 'SELECT * FROM t WHERE $__timeFilter_ms(ts)' })).toBe(
      'SELECT * FROM t WHERE ts >= fromUnixTimestamp64Milli(1415792726123) AND ts <= fromUnixTimestamp64Milli(1447328726456)',
    );
  });

  it('keeps the scanner quirks: longest name first, ReplaceAll, no quote awareness, interval floor of 1 s', () => {
    expect(expand('$__timeFilter_ms(a) AND $__timeFilter(b)')).toBe(
      'a >= fromUnixTimestamp64Milli(1415792726371) AND a <= fromUnixTimestamp64Milli(1447328726371) AND b >= toDateTime(1415792726) AND b <= toDateTime(1447328726)',
    );
    expect(expand("'$__fromTime'")).toBe("'toDateTime(1415792726)'");
    expect(interpolateMacros({ ...q, intervalMs: 250, rawSql: '$__timeInterval(t)' })).toBe('toStartOfInterval(toDateTime(t), INTERVAL 1 second)');
    expect(interpolateMacros({ ...q, intervalMs: 1900, rawSql: '$__interval_s' })).toBe('1');
    expect(expand('$__timeInterval(toStartOfHour(x))')).toBe('toStartOfInterval(toDateTime(toStartOfHour(x)), INTERVAL 20 second)');
    expect(expand('$__conditionalAll(a, $b) AND $__unknown')).toBe('$__conditionalAll(a, $b) AND $__unknown');
  });

  it('fails the query on a wrong argument count or an unclosed bracket, as the plugin does', () => {
    expect(() => expand('$__timeFilter (x)')).toThrow(MacroError);
    expect(() => expand('$__dt(a)')).toThrow(/expected 2 arguments, received 1/);
    expect(() => expand('$__timeFilter(x')).toThrow(/missing close bracket/);
    expect(() => expand('$__timeGroup(t, 1h)')).toThrow(MacroError);
  });
});

describe('browser-side variables', () => {
  const service = { name: 'service', value: ['api'], options: ['api', 'worker', 'cache'] };
  const sql = 'SELECT * FROM e2e_test.events WHERE $__conditionalAll(service IN ($service), $service) ORDER BY timestamp';

  it('expands $__conditionalAll like the plugin e2e test: a selection filters, All gives 1=1', () => {
    expect(replaceVariables(applyConditionalAll(sql, [service]), [service], {})).toBe(
      "SELECT * FROM e2e_test.events WHERE service IN ('api') ORDER BY timestamp",
    );
    const all = { ...service, value: ['$__all'] };
    expect(replaceVariables(applyConditionalAll(sql, [all]), [all], {})).toBe('SELECT * FROM e2e_test.events WHERE 1=1 ORDER BY timestamp');
    const empty = { ...service, value: [] as string[] };
    expect(applyConditionalAll(sql, [empty])).toContain('WHERE 1=1');
  });

  it('formats single values raw, arrays quoted, and percentencode leaves no quote or backslash', () => {
    expect(replaceVariables('x = $v', [{ name: 'v', value: 'abc' }], {})).toBe('x = abc');
    expect(replaceVariables('x IN ($v)', [{ name: 'v', value: ['a', 'b'] }], {})).toBe("x IN ('a','b')");
    const hostile = "o'brien\\' OR 1=1 --";
    const out = replaceVariables("decodeURLComponent('${v:percentencode}')", [{ name: 'v', value: hostile }], {});
    expect(out).toBe("decodeURLComponent('o%27brien%5C%27%20OR%201%3D1%20--')");
    expect(replaceVariables('${v:queryparam}', [{ name: 'v', value: ['a b', 'c'] }], {})).toBe('var-v=a%20b&var-v=c');
  });

  it('leaves plugin macros for the backend and runs the whole chain', () => {
    const vars = [{ name: 'tenant', value: ['acme'], options: ['acme', 'globex'] }];
    expect(panelSql('SELECT $__timeInterval(t) AS time FROM x WHERE $__timeFilter(t) AND $__conditionalAll(tenant_id IN ($tenant), $tenant)', vars, q)).toBe(
      "SELECT toStartOfInterval(toDateTime(t), INTERVAL 20 second) AS time FROM x WHERE t >= toDateTime(1415792726) AND t <= toDateTime(1447328726) AND tenant_id IN ('acme')",
    );
    // Alert rules skip the browser step: a $__conditionalAll stays and ClickHouse would fail on it.
    expect(alertSql('WHERE $__conditionalAll(a IN ($v), $v)', q)).toContain('$__conditionalAll');
  });
});
