// The audit event: its stored form (the query API's AuditEvent, the writer's EventRow) and the
// columns of audit_activities. A leaf: imported by every capability, importing none of theirs.
// The zod schema is the single source of the validator, the TypeScript type, the OpenAPI doc and
// (by `import type`) the client SDK's AuditEvent.
import { z } from '@hono/zod-openapi';
import { TenantIdSchema } from './patterns.ts';

export const SEVERITIES = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const severities: readonly Severity[] = SEVERITIES;
export const OUTCOMES = ['success', 'failure'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const SeveritySchema = z.enum(SEVERITIES).openapi({ example: 'LOW' });
export const OutcomeSchema = z.enum(OUTCOMES);

/** The stored event, as the query API returns it. */
export const AuditEvent = z
  .object({
    id: z.string(),
    timestamp: z.string().openapi({ example: '2026-01-31T12:00:00.000Z', format: 'date-time' }),
    received_at: z.string().openapi({ format: 'date-time' }),
    activity_type: z.string(),
    severity: SeveritySchema,
    action: z.string(),
    description: z.string(),
    outcome: OutcomeSchema,
    user_id: z.string(),
    tenant_id: TenantIdSchema,
    resource_type: z.string(),
    resource_id: z.string(),
    ip_address: z.string(),
    user_agent: z.string(),
    request_id: z.string(),
    details: z.record(z.string(), z.unknown()),
  })
  .openapi('AuditEvent');

export type AuditEvent = z.infer<typeof AuditEvent>;

/** Column order of audit_activities inserts (JSONCompactEachRow). */
export const EVENT_COLUMNS = [
  'id', 'tenant_id', 'timestamp', 'received_at', 'activity_type', 'severity', 'action', 'outcome',
  'resource_type', 'user_agent', 'user_id', 'resource_id', 'ip_address', 'request_id', 'description', 'details',
] as const;

/**
 * A validated, defaulted event ready to store; times are epoch milliseconds. Also the fields the
 * hash chains cover (src/integrity/canonical.ts), details as the stored JSON text.
 */
export interface EventRow {
  id: string;
  tenant_id: string;
  timestamp: number;
  received_at: number;
  activity_type: string;
  severity: string;
  action: string;
  outcome: string;
  resource_type: string;
  user_agent: string;
  user_id: string;
  resource_id: string;
  ip_address: string;
  request_id: string;
  description: string;
  /** JSON text of the (redacted) details object. */
  details: string;
}

/**
 * ClickHouse DateTime64(3) text for JSON input: 'YYYY-MM-DD hh:mm:ss.mmm' (UTC). Not epoch
 * seconds: ClickHouse reads a short number (any time before 1973-03-03) as a packed date.
 */
export const toChTime = (ms: number) => {
  const iso = new Date(ms).toISOString(); // 2026-01-31T12:00:00.000Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
};
