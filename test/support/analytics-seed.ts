// Deterministic audit events spread over several days and tenants, for the analytics tests:
// every severity, both outcomes, users and resources with awkward characters, events without a
// resource, and a few events outside any summary window.
import { uuidv7 } from '../../src/event/ids.ts';
import type { EventRow } from '../../src/event/model.ts';
import { prng as rng } from '../../bench/lib/corpus.ts';

/** Seeded PRNG: the same seed gives the same events on every run (the bench corpus's mulberry32, one copy). */
export { rng };

const TYPES = ['user.login', 'user.logout', 'file.uploaded', 'file.downloaded', 'api.request', 'permission.granted', 'config.changed'];
const SEVERITIES = ['LOW', 'LOW', 'LOW', 'MEDIUM', 'MEDIUM', 'HIGH', 'CRITICAL'];
const USERS = ['alice', 'bob', "o'brien", 'zoë', 'svc-backup', 'carol'];
const RESOURCES: Array<[string, string]> = [['', ''], ['file', 'f-1'], ['file', 'f-2'], ['file', 'q3 report.pdf'], ['project', 'p/alpha'], ['secret', 'db-password']];

export interface SeedOptions {
  tenants: string[];
  perTenant: number;
  /** Events fall in the last `spanDays` days before `now` (plus a few 40 days back). */
  spanDays: number;
  now: number;
  seed?: number;
}

export function seedEvents(o: SeedOptions): EventRow[] {
  const next = rng(o.seed ?? 42);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
  const rows: EventRow[] = [];
  for (const tenant of o.tenants) {
    for (let i = 0; i < o.perTenant; i++) {
      // 2% lie 40 days back: outside every short window, inside the long ones.
      const back = i % 50 === 0 ? 40 * 86_400_000 : Math.floor(next() * o.spanDays * 86_400_000);
      const ts = o.now - 60_000 - back;
      const [resource_type, resource_id] = pick(RESOURCES);
      const activity_type = pick(TYPES);
      rows.push({
        id: uuidv7(ts),
        tenant_id: tenant,
        timestamp: ts,
        received_at: o.now,
        activity_type,
        severity: pick(SEVERITIES),
        action: activity_type.split('.')[1]!,
        outcome: next() < (activity_type === 'user.login' ? 0.3 : 0.08) ? 'failure' : 'success',
        resource_type,
        user_agent: 'seed/1',
        user_id: pick(USERS),
        resource_id,
        ip_address: `10.0.0.${1 + Math.floor(next() * 20)}`,
        request_id: '',
        description: `${activity_type} by seed`,
        details: '{}',
      });
    }
  }
  return rows;
}

/** The wire form of a stored row (what a service would POST). */
export function toWire(r: EventRow): Record<string, unknown> {
  const wire: Record<string, unknown> = {
    id: r.id,
    timestamp: new Date(r.timestamp).toISOString(),
    activity_type: r.activity_type,
    severity: r.severity,
    action: r.action,
    outcome: r.outcome,
    user_id: r.user_id,
    ip_address: r.ip_address,
    user_agent: r.user_agent,
    description: r.description,
  };
  if (r.resource_id) Object.assign(wire, { resource_type: r.resource_type, resource_id: r.resource_id });
  return wire;
}
