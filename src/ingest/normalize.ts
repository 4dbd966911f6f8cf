// From validated wire events to stored rows: validation errors name the event index and field,
// defaults come from the token and the HTTP request, secrets are redacted, ids are assigned.
//
// One function checks events one by one (`validateEvents`: the rows that passed, and one
// rejection per event that did not); the native API's all-or-nothing path (`normalizeEvents`)
// and every per-event path (`?partial=true`, OTLP partialSuccess) are built on it, so a
// validation rule added here applies to all of them at once.
import type { z } from '@hono/zod-openapi';
import { problem, type FieldError } from '../problems.ts';
import { hasScope, type Principal } from '../auth/principal.ts';
import { AuditEventInput, ServiceEventInput } from '../event/input.ts';
import { MAX_FUTURE_MS, MIN_TIMESTAMP_MS } from '../event/limits.ts';
import type { EventRow } from '../event/model.ts';
import type { Redactor } from './redact.ts';
import { uuidv7 } from '../event/ids.ts';

export interface RequestContext {
  principal: Principal;
  ip: string;
  userAgent: string;
  requestId: string;
  now: number;
  /**
   * The service recording its own event (the access log's audit.accessed): the reserved audit.*
   * namespace is allowed. Never set from a request: every ingest route leaves it unset.
   */
  service?: boolean;
}

export interface NormalizeResult {
  rows: EventRow[];
  redactions: number;
  /** minted[i]: rows[i].id was generated here just now (the event had none), so it cannot be stored yet. */
  minted: boolean[];
}

/** An event refused on its own: `field`/`message` name its first problem, `errors` all of them. */
export interface RejectedEvent {
  index: number;
  field?: string;
  message: string;
  errors: FieldError[];
  /** It names another tenant without audit:admin: an authorization refusal (403 when all-or-nothing). */
  forbidden?: boolean;
}

export interface ValidationResult extends NormalizeResult {
  /** indexes[i]: the position in the input of rows[i]. */
  indexes: number[];
  /** In input order. */
  rejected: RejectedEvent[];
}

const MAX_REPORTED_ERRORS = 100;

function fieldErrors(index: number, error: z.ZodError): FieldError[] {
  return error.issues.map((i) => {
    const keys = i.code === 'unrecognized_keys' ? (i as { keys?: string[] }).keys ?? [] : [];
    const field = [...i.path, ...(keys.length === 1 ? keys : [])].join('.');
    return { index, ...(field ? { field } : {}), message: i.message };
  });
}

/** One rejection from an event's field errors (its first problem up front). */
export function rejection(index: number, errors: FieldError[], forbidden = false): RejectedEvent {
  const first = errors[0] ?? { message: 'is invalid' };
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more problem${errors.length > 2 ? 's' : ''})` : '';
  return {
    index,
    ...(first.field ? { field: first.field } : {}),
    message: first.message + more,
    errors: errors.map((e) => ({ ...e, index })),
    ...(forbidden ? { forbidden } : {}),
  };
}

/**
 * Validates each event on its own. `skip`: indexes already refused by the caller (a body line
 * that is not JSON, an event over the size limit); they are neither validated nor reported here.
 */
export function validateEvents(raw: readonly unknown[], ctx: RequestContext, redactor: Redactor, skip?: ReadonlySet<number>): ValidationResult {
  const out: ValidationResult = { rows: [], minted: [], indexes: [], rejected: [], redactions: 0 };
  const isAdmin = hasScope(ctx.principal, 'audit:admin');
  const schema = ctx.service === true ? ServiceEventInput : AuditEventInput;

  raw.forEach((candidate, index) => {
    if (skip?.has(index)) return;
    const parsed = schema.safeParse(candidate);
    if (!parsed.success) {
      out.rejected.push(rejection(index, fieldErrors(index, parsed.error)));
      return;
    }
    const e = parsed.data;
    let ts = ctx.now;
    if (e.timestamp !== undefined) {
      ts = Date.parse(e.timestamp);
      if (ts > ctx.now + MAX_FUTURE_MS) {
        out.rejected.push(rejection(index, [{ field: 'timestamp', message: 'is more than 5 minutes in the future' }]));
        return;
      }
      if (ts < MIN_TIMESTAMP_MS) {
        out.rejected.push(rejection(index, [{ field: 'timestamp', message: 'is before 1970-01-01T00:00:00Z' }]));
        return;
      }
    }
    const tenant = e.tenant_id ?? ctx.principal.tenantId;
    if (tenant !== ctx.principal.tenantId && !isAdmin) {
      out.rejected.push(rejection(index, [{
        field: 'tenant_id',
        message: `names tenant "${tenant}", but this token belongs to another tenant; only audit:admin may post for other tenants`,
      }], true));
      return;
    }
    let redactions = 0;
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
    // Labels (action, resource_type, request_id) are text like any other: secrets and card
    // numbers in them are redacted. Identifiers posted with one were refused by the schema; the
    // ones defaulted from the request (User-Agent, X-Request-Id headers) are scrubbed here.
    const label = (v: string) => {
      if (v === '') return v;
      const r = redactor.text(v);
      redactions += r.count;
      return r.value;
    };
    out.minted.push(e.id === undefined);
    out.indexes.push(index);
    out.rows.push({
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
    out.redactions += redactions; // after the row: label() above counts too
  });
  return out;
}

/** Validates every event; one bad event refuses the whole request (422, or 403 for a foreign tenant), so nothing is half-stored. */
export function normalizeEvents(raw: unknown[], ctx: RequestContext, redactor: Redactor): NormalizeResult {
  const { rows, redactions, minted, rejected } = validateEvents(raw, ctx, redactor);
  const forbidden = rejected.find((r) => r.forbidden);
  if (forbidden) {
    throw problem('tenant-forbidden', `Event ${forbidden.index} ${forbidden.message}.`);
  }
  if (rejected.length > 0) {
    throw problem('invalid-events',
      `${rejected.length} of ${raw.length} event(s) are invalid; nothing was stored. See errors[] for each event index and field.`,
      { errors: rejected.flatMap((r) => r.errors).slice(0, MAX_REPORTED_ERRORS) });
  }
  return { rows, redactions, minted };
}
