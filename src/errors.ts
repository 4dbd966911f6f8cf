// One error type for the API and one place (app.onError) that turns errors into RFC 9457
// problem+json. Handlers throw ApiError; nothing else decides status codes.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { matchedRoutes } from 'hono/route';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { AppEnv } from './env.ts';
import { diagnosticError } from './log-redact.ts';
import { StoreError } from './store/errors.ts';

export interface FieldError {
  /** Index of the event in the request body (batches), when the error is about one event. */
  index?: number;
  /** JSON path of the offending field, e.g. "details.user" or "severity". */
  field?: string;
  message: string;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    /** Short, stable machine-readable code; becomes the problem `type` suffix. */
    readonly code: string,
    detail: string,
    readonly extra: { errors?: FieldError[]; headers?: Record<string, string> } & Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = 'ApiError';
  }
}

export const badRequest = (code: string, detail: string, errors?: FieldError[]) =>
  new ApiError(400, code, detail, errors ? { errors } : {});
export const unauthorized = (detail: string) =>
  new ApiError(401, 'unauthorized', detail, { headers: { 'WWW-Authenticate': 'Bearer' } });
export const forbidden = (code: string, detail: string) => new ApiError(403, code, detail);
export const notFound = (detail: string) => new ApiError(404, 'not-found', detail);

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  request_id?: string;
  errors?: FieldError[];
  [key: string]: unknown;
}

export const PROBLEM_TYPE_BASE = 'https://audithouse.dev/problems/';

export function problemBody(c: Context<AppEnv>, err: ApiError): Problem {
  const { headers: _headers, ...extra } = err.extra;
  return {
    type: PROBLEM_TYPE_BASE + err.code,
    title: TITLES[err.status] ?? 'Error',
    status: err.status,
    detail: err.message,
    instance: new URL(c.req.url).pathname,
    request_id: c.get('requestId'),
    ...extra,
  };
}

export function problemResponse(c: Context<AppEnv>, err: ApiError): Response {
  const body = problemBody(c, err);
  const headers: Record<string, string> = { 'Content-Type': 'application/problem+json', ...err.extra.headers };
  return new Response(JSON.stringify(body), { status: err.status, headers });
}

/** app.onError: ApiError and HTTPException keep their status; anything else is a logged, generic 500. */
export function handleError(err: unknown, c: Context<AppEnv>): Response {
  if (err instanceof ApiError) return problemResponse(c, err);
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    const code = status === 413 ? 'payload-too-large' : status === 401 ? 'unauthorized' : 'http-error';
    return problemResponse(c, new ApiError(status, code, err.message || TITLES[status] || 'HTTP error'));
  }
  const log = c.get('log');
  // Enough to diagnose from the log alone (class, ClickHouse code, message, stack, where), but
  // value-free: a store error quotes the rows it refused and the filters it was given. Under
  // `error`, not `err`: pino's err serializer would rebuild it from the raw error chain.
  const where = { method: c.req.method, route: routeLabel(c) };
  if (err instanceof StoreError && err.retryable) {
    // The store is down or overloaded: a condition to wait out, not a bug in the request.
    log?.warn({ error: diagnosticError(err), ...where }, 'store unavailable');
    return problemResponse(c, new ApiError(503, 'store-unavailable', 'The audit store is temporarily unavailable; retry later.', { headers: { 'Retry-After': '5' } }));
  }
  log?.error({ error: diagnosticError(err), ...where }, 'unhandled error');
  return problemResponse(c, new ApiError(500, 'internal', 'An unexpected error occurred; it has been logged with this request_id.'));
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
