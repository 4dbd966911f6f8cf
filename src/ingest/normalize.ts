// From validated wire events to stored rows: validation errors name the event index and field,
// defaults come from the token and the HTTP request, secrets are redacted, ids are assigned.
import type { z } from '@hono/zod-openapi';
import { ApiError, type FieldError } from '../errors.ts';
import { hasScope, type Principal } from '../auth/principal.ts';
import { AuditEventInput, MAX_FUTURE_MS, MIN_TIMESTAMP_MS, type EventRow } from './event.ts';
import type { Redactor } from './redact.ts';
import { uuidv7 } from './uuid.ts';

export interface RequestContext {
  principal: Principal;
  ip: string;
  userAgent: string;
  requestId: string;
  now: number;
}

export interface NormalizeResult {
  rows: EventRow[];
  redactions: number;
}

const MAX_REPORTED_ERRORS = 100;

function fieldErrors(index: number, error: z.ZodError): FieldError[] {
  return error.issues.map((i) => {
    const keys = i.code === 'unrecognized_keys' ? (i as { keys?: string[] }).keys ?? [] : [];
    const field = [...i.path, ...(keys.length === 1 ? keys : [])].join('.');
    return { index, ...(field ? { field } : {}), message: i.message };
  });
}

/** Validates every event; one bad event refuses the whole request (422), so nothing is half-stored. */
export function normalizeEvents(raw: unknown[], ctx: RequestContext, redactor: Redactor): NormalizeResult {
  const errors: FieldError[] = [];
  const rows: EventRow[] = [];
  let redactions = 0;
  let badEvents = 0;
  const isAdmin = hasScope(ctx.principal, 'audit:admin');

  raw.forEach((candidate, index) => {
    const parsed = AuditEventInput.safeParse(candidate);
    if (!parsed.success) {
      badEvents++;
      errors.push(...fieldErrors(index, parsed.error));
      return;
    }
    const e = parsed.data;
    let ts = ctx.now;
    if (e.timestamp !== undefined) {
      ts = Date.parse(e.timestamp);
      if (ts > ctx.now + MAX_FUTURE_MS) {
        badEvents++;
        errors.push({ index, field: 'timestamp', message: 'is more than 5 minutes in the future' });
        return;
      }
      if (ts < MIN_TIMESTAMP_MS) {
        badEvents++;
        errors.push({ index, field: 'timestamp', message: 'is before 1970-01-01T00:00:00Z' });
        return;
      }
    }
    const tenant = e.tenant_id ?? ctx.principal.tenantId;
    if (tenant !== ctx.principal.tenantId && !isAdmin) {
      throw new ApiError(403, 'tenant-forbidden',
        `Event ${index} names tenant_id "${tenant}", but this token belongs to another tenant; only audit:admin may post for other tenants.`);
    }
    let details = '{}';
    if (e.details !== undefined) {
      const r = redactor.details(e.details);
      redactions += r.count;
      details = JSON.stringify(r.value);
    }
    let description = e.description ?? '';
    if (description) {
      const r = redactor.text(description);
      redactions += r.count;
      description = r.value;
    }
    // Identifiers and labels: credential-shaped values are scrubbed too (never card numbers,
    // whose shape a numeric id can share).
    const label = (v: string) => {
      if (v === '') return v;
      const r = redactor.tokens(v);
      redactions += r.count;
      return r.value;
    };
    rows.push({
      id: (e.id ?? uuidv7(ts)).toLowerCase(),
      tenant_id: tenant,
      timestamp: Math.trunc(ts),
      received_at: ctx.now,
      activity_type: e.activity_type,
      severity: e.severity,
      action: label(e.action),
      outcome: e.outcome,
      resource_type: label(e.resource_type ?? ''),
      user_agent: label(e.user_agent ?? ctx.userAgent),
      user_id: e.user_id ?? ctx.principal.sub,
      resource_id: label(e.resource_id ?? ''),
      ip_address: e.ip_address ?? ctx.ip,
      request_id: label(e.request_id ?? ctx.requestId),
      description,
      details,
    });
  });

  if (errors.length > 0) {
    throw new ApiError(422, 'invalid-events',
      `${badEvents} of ${raw.length} event(s) are invalid; nothing was stored. See errors[] for each event index and field.`,
      { errors: errors.slice(0, MAX_REPORTED_ERRORS) });
  }
  return { rows, redactions };
}
