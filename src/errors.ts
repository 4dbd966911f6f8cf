// One place that turns errors into RFC 9457 problem+json: the catalogue (src/problems.ts) says
// what each code answers; `domainProblem` says which problem a domain error is (store down,
// writer overloaded, spool full, retention busy); app.onError (handleError) answers with it.
// Handlers throw `problem(code, detail)` or let domain errors through; nothing else picks a status.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { matchedRoutes } from 'hono/route';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { AppEnv } from './env.ts';
import { WriterClosedError, WriterOverloadedError } from './ingest/writer.ts';
import { diagnosticError } from './log-redact.ts';
import { ApiError, problem, reasonPhrase, type FieldError } from './problems.ts';
import { RetentionBusyError } from './retention/lock.ts';
import { ArchiveIntegrityError } from './retention/recover.ts';
import { SpoolFullError, SpoolTooSmallError, SpoolUnavailableError } from './spool/errors.ts';
import { isRetryable, StoreError } from './store/errors.ts';

export { ApiError, problem, type FieldError } from './problems.ts';

/**
 * What the request was doing when a domain error stopped it. It decides what the detail tells
 * the client, and whether a writer or spool refusal is a clean "not accepted" (only while
 * writing events: anywhere else it is an unexpected 500, as the request may have done part of its work).
 */
export type Phase = 'request' | 'write' | 'export';

const RETRY_SAME_IDS = 'Retry later with the same event ids: an event that was stored meanwhile is not stored twice.';

const STORE_UNAVAILABLE: Record<Phase, string> = {
  request: 'The audit store is temporarily unavailable; retry later.',
  write: `The audit store is unavailable; this request was not accepted. ${RETRY_SAME_IDS}`,
  export: 'The audit store is unavailable; retry later.',
};

/**
 * The answer for a write that could not be made durable: never a silent drop, always a
 * Retry-After (except when retrying as is cannot help). Every ingest path (native, OTLP) comes
 * through here, so they refuse alike.
 */
function writeRefusal(err: unknown): ApiError | undefined {
  if (err instanceof WriterOverloadedError) {
    return problem('overloaded', `Too many events are waiting to be written; this request was not accepted. ${RETRY_SAME_IDS}`);
  }
  if (err instanceof WriterClosedError) {
    return problem('shutting-down', `This instance is shutting down; this request was not accepted. ${RETRY_SAME_IDS}`, { headers: { Connection: 'close' } });
  }
  if (err instanceof SpoolTooSmallError) {
    return problem('too-large-for-spool', `The audit store is unavailable and this request (${err.bytes} bytes) is larger than the whole local spool (AUDIT_SPOOL_MAX_BYTES=${err.maxBytes}); send it in smaller requests.`);
  }
  if (err instanceof SpoolFullError) {
    return problem('spool-full', `The audit store is unavailable and the local spool is full; this request was not accepted. ${RETRY_SAME_IDS}`);
  }
  if (err instanceof SpoolUnavailableError) {
    return problem('spool-unavailable', `The audit store is unavailable and the local spool cannot be written; this request was not accepted. ${RETRY_SAME_IDS}`);
  }
  return undefined;
}

/** The problem a thrown error is, or undefined for an unexpected one (a logged 500). */
export function domainProblem(err: unknown, phase: Phase = 'request'): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    const detail = err.message || reasonPhrase(status) || 'HTTP error';
    if (status === 413) return problem('payload-too-large', detail);
    if (status === 401) return problem('unauthorized', detail);
    return problem('http-error', detail, { status });
  }
  if (err instanceof RetentionBusyError) {
    return problem('retention-running', `A retention run is in progress; try again when it ends (${err.message}).`);
  }
  if (err instanceof ArchiveIntegrityError) return problem('archive-inconsistent', err.message);
  if (phase === 'write') {
    const refusal = writeRefusal(err);
    if (refusal) return refusal;
  }
  // A request in general trusts the store's own typing; the write and export paths, which talk
  // to the store directly, also recognise a raw transient ClickHouse or network error.
  const unavailable = phase === 'request' ? err instanceof StoreError && err.retryable : isRetryable(err);
  if (unavailable) return problem('store-unavailable', STORE_UNAVAILABLE[phase]);
  return undefined;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  request_id?: string;
  errors?: FieldError[];
}

export function problemBody(c: Context<AppEnv>, err: ApiError): Problem {
  return {
    type: err.type,
    title: err.title,
    status: err.status,
    detail: err.message,
    instance: new URL(c.req.url).pathname,
    request_id: c.get('requestId'),
    ...(err.errors ? { errors: err.errors } : {}),
  };
}

export function problemResponse(c: Context<AppEnv>, err: ApiError): Response {
  const headers: Record<string, string> = { 'Content-Type': 'application/problem+json', ...err.headers };
  return new Response(JSON.stringify(problemBody(c, err)), { status: err.status, headers });
}

/**
 * The problem to answer for any thrown error. Unexpected errors are logged (enough to diagnose
 * from the log alone: class, ClickHouse code, message, stack, where) and become a generic 500.
 */
export function toApiError(err: unknown, c: Context<AppEnv>): ApiError {
  const mapped = domainProblem(err);
  const log = c.get('log');
  // Value-free: a store error quotes the rows it refused and the filters it was given. Under
  // `error`, not `err`: pino's err serializer would rebuild it from the raw error chain.
  const where = { method: c.req.method, route: routeLabel(c) };
  if (mapped) {
    // The store is down or overloaded: a condition to wait out, not a bug in the request.
    if (mapped.code === 'store-unavailable' && !(err instanceof ApiError)) log?.warn({ error: diagnosticError(err), ...where }, 'store unavailable');
    return mapped;
  }
  log?.error({ error: diagnosticError(err), ...where }, 'unhandled error');
  return problem('internal', 'An unexpected error occurred; it has been logged with this request_id.');
}

/** app.onError: every error becomes problem+json. */
export function handleError(err: unknown, c: Context<AppEnv>): Response {
  return problemResponse(c, toApiError(err, c));
}

/**
 * The route template for logs and metric labels (bounded: never the concrete path). When a
 * middleware answered (e.g. 401 from authenticate), it names the route that would have answered,
 * so an ingest 401 counts under the ingest route; nothing matched is "unmatched".
 */
export function routeLabel(c: Context<AppEnv>): string {
  const routes = matchedRoutes(c);
  const answered = routes[c.req.routeIndex];
  if (answered && answered.method !== 'ALL') return answered.path;
  return routes.find((r) => r.method !== 'ALL')?.path ?? 'unmatched';
}
