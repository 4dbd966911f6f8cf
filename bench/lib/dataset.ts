// Millions of rows in seconds: the corpus of corpus.ts generated inside the engine with
// INSERT ... SELECT FROM numbers(). Every random choice is a hash of the row number, so rows
// [0, 1M) are the same whether generated alone or as the first part of 10M, and growing a data
// set from 1M to 10M only inserts rows [1M, 10M). Distributions match the JS generator.
import { EVENT_COLUMNS } from '../../src/event/model.ts';
import type { Store } from '../../src/store/client.ts';
import { ACTIVITY_TYPES, RESOURCES_PER_TENANT, SEVERITY_ESCALATION, SPAN_DAYS, TENANTS, TYPE_CUMULATIVE, USER_AGENTS } from './corpus.ts';

/** Uniform [0,1) from the row number and a stream number k. */
const u = (k: number) => `(cityHash64(number, ${k}) / 18446744073709551616.0)`;

const GENERATOR = `
SELECT
  id, tenant_id, timestamp, received_at, activity_type, severity, action, outcome, resource_type, user_agent,
  user_id, resource_id, ip_address, request_id, description, details
FROM
(
  SELECT
    least({tenants:UInt32}, toUInt32(floor(exp(${u(1)} * log({tenants:UInt32} + 1))))) AS tk,
    greatest(5, intDiv(5000, tk)) AS nusers,
    least(nusers, toUInt32(floor(exp(${u(2)} * log(nusers + 1))))) AS uk,
    greatest(1, arrayFirstIndex(c -> c > ${u(3)}, {cum:Array(Float64)})) AS ti,
    {types:Array(String)}[ti] AS activity_type,
    {actions:Array(String)}[ti] AS action,
    {resources:Array(String)}[ti] AS resource_type,
    {severities:Array(String)}[ti] AS base_severity,
    {details_kind:Array(String)}[ti] AS kind,
    ${u(4)} AS u_sev,
    multiIf(u_sev < {p_critical:Float64}, 'CRITICAL', u_sev < {p_high:Float64}, 'HIGH',
            u_sev < {p_medium:Float64} AND base_severity = 'LOW', 'MEDIUM', base_severity) AS severity,
    if(${u(5)} < {failure:Array(Float64)}[ti], 'failure', 'success') AS outcome,
    {now_ms:Int64} - toInt64(floor(${u(6)} * {span_ms:Int64})) AS ts_ms,
    fromUnixTimestamp64Milli(ts_ms) AS timestamp,
    fromUnixTimestamp64Milli(ts_ms + 50 + toInt64(cityHash64(number, 7) % 500)) AS received_at,
    concat('tenant-', leftPad(toString(tk), 4, '0')) AS tenant_id,
    concat('user-', toString(uk), '@', tenant_id, '.example') AS user_id,
    least({resources_per_tenant:UInt32}, toUInt32(floor(exp(${u(8)} * log({resources_per_tenant:UInt32} + 1))))) AS rk,
    concat(resource_type, '_', substring(lower(hex(SHA1(concat(toString(tk), ':', toString(rk))))), 1, 12)) AS resource_id,
    SHA1(concat(toString(tk), ':', toString(uk), ':', toString(cityHash64(number, 9) % 3))) AS ip_hash,
    concat(toString(reinterpretAsUInt8(substring(ip_hash, 1, 1)) % 223 + 1), '.',
           toString(reinterpretAsUInt8(substring(ip_hash, 2, 1))), '.',
           toString(reinterpretAsUInt8(substring(ip_hash, 3, 1))), '.',
           toString(reinterpretAsUInt8(substring(ip_hash, 4, 1)))) AS ip_address,
    {user_agents:Array(String)}[((tk * 7 + uk) % length({user_agents:Array(String)})) + 1] AS user_agent,
    concat('req_', leftPad(lower(hex(cityHash64(number, 10))), 16, '0')) AS request_id,
    replaceOne(replaceOne(replaceOne({templates:Array(String)}[ti], '{user}', user_id), '{resource}', resource_id), '{ip}', ip_address) AS description,
    ${u(11)} AS d1, ${u(12)} AS d2, ${u(13)} AS d3,
    multiIf(
      kind = 'login', concat('{"method":"', if(d1 < 0.8, 'password', 'sso'), '","mfa":', if(d2 < 0.6, 'true', 'false'), '}'),
      kind = 'api', concat('{"method":"', ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'][1 + toUInt32(floor(d1 * 6))],
                           '","path":"/v1/', resource_id, '","status":', if(d2 < 0.97, '200', '500'),
                           ',"duration_ms":', toString(toUInt32(floor(d3 * ${u(14)} * 2000))), '}'),
      kind = 'file', concat('{"filename":"report-', toString(toUInt32(floor(d1 * 5000))), '.pdf","size":', toString(toUInt32(floor(d2 * 5000000))), '}'),
      kind = 'doc', concat('{"version":', toString(toUInt32(floor(d1 * 40)) + 1), '}'),
      kind = 'role', concat('{"role":"', ['viewer', 'editor', 'admin', 'billing'][1 + toUInt32(floor(d1 * 4))], '"}'),
      kind = 'billing', concat('{"amount_cents":', toString(toUInt32(floor(d1 * 100000))), ',"currency":"', if(d2 < 0.7, 'EUR', 'USD'), '"}'),
      '{}') AS details,
    -- UUIDv7 of the event time, the rest from the row's hash (what the service generates).
    leftPad(lower(hex(ts_ms)), 12, '0') AS ts_hex,
    leftPad(lower(hex(cityHash64(number, 15))), 16, '0') AS r1,
    leftPad(lower(hex(cityHash64(number, 16))), 16, '0') AS r2,
    toUUID(concat(substring(ts_hex, 1, 8), '-', substring(ts_hex, 9, 4), '-7', substring(r1, 1, 3), '-',
                  ['8', '9', 'a', 'b'][1 + toUInt8(cityHash64(number, 17) % 4)], substring(r1, 4, 3), '-', substring(r2, 1, 12))) AS id
  FROM numbers({start:UInt64}, {count:UInt64})
)`;

export function generatorParams(start: number, count: number, nowMs: number): Record<string, unknown> {
  return {
    start,
    count,
    now_ms: nowMs,
    span_ms: SPAN_DAYS * 86_400_000,
    tenants: TENANTS,
    resources_per_tenant: RESOURCES_PER_TENANT,
    cum: TYPE_CUMULATIVE,
    types: ACTIVITY_TYPES.map((t) => t.type),
    actions: ACTIVITY_TYPES.map((t) => t.action),
    resources: ACTIVITY_TYPES.map((t) => t.resource),
    severities: ACTIVITY_TYPES.map((t) => t.severity),
    failure: ACTIVITY_TYPES.map((t) => t.failure),
    templates: ACTIVITY_TYPES.map((t) => t.template),
    details_kind: ACTIVITY_TYPES.map((t) => t.details),
    user_agents: USER_AGENTS,
    p_critical: SEVERITY_ESCALATION.CRITICAL,
    p_high: SEVERITY_ESCALATION.HIGH,
    p_medium: SEVERITY_ESCALATION.MEDIUM,
  };
}

/** The generator's SELECT, for callers that stream it elsewhere (e.g. into Postgres). */
export const generatorSelect = GENERATOR;

/** Inserts rows [start, start+count) into `table`, in chunks so no insert holds too much in memory. */
export async function generateRows(store: Store, table: string, start: number, count: number, nowMs: number, chunk = 2_000_000): Promise<void> {
  for (let s = start; s < start + count; s += chunk) {
    const n = Math.min(chunk, start + count - s);
    await store.command(
      `INSERT INTO ${store.table(table)} (${EVENT_COLUMNS.join(', ')}) ${GENERATOR}`,
      generatorParams(s, n, nowMs),
      'bench-generate',
    );
  }
}
