// Query-string schemas of the read endpoints (the export endpoint reuses the filter part).
// Each string parameter declares, as its pattern, exactly what is accepted, so the OpenAPI document
// is the contract. An empty value (`?severity=`) is refused (400) like any other bad value, on every
// endpoint: leave a parameter out not to filter on it.
import { z } from '@hono/zod-openapi';
import { ACTIVITY_TYPE_SOURCE, ISO_INSTANT_RE, TenantIdSchema } from '../event/patterns.ts';
import { severities } from '../event/model.ts';
import { queryInt } from '../params.ts';
import type { ActivityFilters } from '../store/activities.ts';

const isoTime = z
  .string()
  .regex(ISO_INSTANT_RE, 'must be an ISO-8601 date or date-time (a real calendar date), e.g. 2026-01-31T00:00:00Z')
  .transform((s) => Date.parse(/[T ]/.test(s) && !/(Z|[+-]\d{2}:?\d{2})$/.test(s) ? `${s}Z` : s));

const text = (max: number) => z.string().min(1).max(max);

/** A comma-separated list (no spaces, no empty items) of one item pattern. */
const listOf = (item: string, max: number, message: string) =>
  z.string().max(max).regex(new RegExp(`^(?:${item})(?:,(?:${item}))*$`), message).transform((s) => s.split(','));

const severityList = listOf(severities.join('|'), 200, `must be one or more of ${severities.join(', ')}, comma-separated`)
  .transform((items) => items as Array<(typeof severities)[number]>);
const activityTypes = listOf(ACTIVITY_TYPE_SOURCE, 1000, 'must be one or more dotted lowercase activity types (e.g. user.login), comma-separated');

// Strict: an unknown parameter (a typo like userid=) is refused, never silently unfiltered.
export const FilterQuery = z.strictObject({
  user_id: text(256).optional(),
  activity_type: activityTypes.optional().openapi({ description: 'One or more, comma-separated', example: 'user.login,user.logout' }),
  severity: severityList.optional().openapi({ description: 'One or more, comma-separated', example: 'HIGH,CRITICAL' }),
  outcome: z.enum(['success', 'failure']).optional(),
  action: text(128).optional(),
  resource_type: text(128).optional(),
  resource_id: text(512).optional(),
  since: isoTime.optional().openapi({ description: 'Inclusive lower bound (ISO-8601)', example: '2026-01-01T00:00:00Z' }),
  until: isoTime.optional().openapi({ description: 'Exclusive upper bound (ISO-8601)' }),
  q: text(200).optional().openapi({ description: 'Case-insensitive text in description' }),
  tenant_id: TenantIdSchema.optional().openapi({ description: 'Another tenant to read; audit:admin only' }),
});

export const ListQuery = FilterQuery.extend({
  limit: queryInt(1, 1000).default(100),
  cursor: z.string().min(1).max(200).regex(/^[A-Za-z0-9_-]+$/, 'must be the next_cursor of the previous page').optional()
    .openapi({ description: 'next_cursor of the previous page (opaque; anything else is a 400)' }),
});

export const RecentQuery = z.strictObject({
  days: queryInt(1, 3660).default(7),
  limit: queryInt(1, 1000).default(50),
  user_id: text(256).optional(),
  tenant_id: TenantIdSchema.optional().openapi({ description: 'Another tenant to read; audit:admin only' }),
});

export function toFilters(q: z.infer<typeof FilterQuery>): ActivityFilters {
  return {
    user_id: q.user_id,
    activity_type: q.activity_type,
    severity: q.severity,
    outcome: q.outcome,
    action: q.action,
    resource_type: q.resource_type,
    resource_id: q.resource_id,
    since: q.since,
    until: q.until,
    q: q.q,
  };
}
