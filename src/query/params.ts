// Query-string schemas of the read endpoints (the export endpoint reuses the filter part).
import { z } from '@hono/zod-openapi';
import { isRealIsoDate, TenantIdSchema } from '../ingest/event.ts';
import { severities } from '../config.ts';
import { queryInt } from '../params.ts';
import type { ActivityFilters } from '../store/activities.ts';

const isoTime = z
  .string()
  .refine((s) => /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(s) && isRealIsoDate(s),
    'must be an ISO-8601 date or date-time, e.g. 2026-01-31T00:00:00Z')
  .transform((s) => Date.parse(/[T ]/.test(s) && !/(Z|[+-]\d{2}:?\d{2})$/.test(s) ? `${s}Z` : s));

const text = (max: number) => z.string().min(1).max(max);

/** A comma-separated list of allowed values, e.g. severity=HIGH,CRITICAL. */
const csvOf = <T extends string>(values: readonly T[], name: string) =>
  z.string().max(200).transform((s, ctx) => {
    const items = s.split(',').map((x) => x.trim()).filter(Boolean);
    if (items.length === 0) {
      ctx.addIssue({ code: 'custom', message: `must name at least one ${name}` });
      return z.NEVER;
    }
    for (const it of items) {
      if (!values.includes(it as T)) {
        ctx.addIssue({ code: 'custom', message: `"${it}" is not a ${name}; expected one of ${values.join(', ')}` });
        return z.NEVER;
      }
    }
    return items as T[];
  });

const activityTypes = z.string().max(1000).transform((s, ctx) => {
  const items = s.split(',').map((x) => x.trim()).filter(Boolean);
  if (items.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'must name at least one activity type' });
    return z.NEVER;
  }
  for (const it of items) {
    if (!/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/.test(it)) {
      ctx.addIssue({ code: 'custom', message: `"${it}" is not a dotted lowercase activity type` });
      return z.NEVER;
    }
  }
  return items;
});

// Strict: an unknown parameter (a typo like userid=) is refused, never silently unfiltered.
export const FilterQuery = z.strictObject({
  user_id: text(256).optional(),
  activity_type: activityTypes.optional().openapi({ description: 'One or more, comma-separated', example: 'user.login,user.logout' }),
  severity: csvOf(severities, 'severity').optional().openapi({ description: 'One or more, comma-separated', example: 'HIGH,CRITICAL' }),
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
  cursor: z.string().max(200).optional().openapi({ description: 'next_cursor of the previous page' }),
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
