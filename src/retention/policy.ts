// How long each severity is kept, and the table TTL that follows from it.
//
// Who deletes: with archiving off, ClickHouse's per-severity TTL does (at insert and merge time),
// so nothing outlives its retention. With archiving on, a TTL would be a second deleter that does
// not wait for the archive: a row posted with an old timestamp would be dropped at insert, and
// rows could expire between two job runs without ever being archived. So with archiving on, the
// retention job is the only deleter (archive, verify, then delete) and the table has no delete TTL.
import type { Config } from '../config.ts';
import type { Severity } from '../event/model.ts';
import { severities } from '../event/model.ts';

export interface RetentionPolicy {
  days: Record<Severity, number>;
  archiveEnabled: boolean;
}

export function retentionPolicy(config: Config): RetentionPolicy {
  return { days: { ...config.retention.days }, archiveEnabled: config.retention.archiveEnabled };
}

const DAY_MS = 86_400_000;

/** Per severity, the instant before which a row is expired: now - days[severity]. */
export function cutoffsAt(now: number, days: Record<Severity, number>): Record<Severity, number> {
  return Object.fromEntries(severities.map((s) => [s, now - days[s] * DAY_MS])) as Record<Severity, number>;
}

/** The TTL clause `migrate()` gives audit_activities under this configuration's retention policy. */
export const tableTtl = (config: Config): string | null => ttlExpression(retentionPolicy(config));

/** The TTL clause body for audit_activities, or null when the table must carry no delete TTL. */
export function ttlExpression(policy: RetentionPolicy): string | null {
  if (policy.archiveEnabled) return null;
  return severities
    .map((s) => `toDateTime(timestamp) + toIntervalDay(${policy.days[s]}) DELETE WHERE severity = '${s}'`)
    .join(', ');
}
