// The problem catalogue: every RFC 9457 problem this service answers, by its stable code. The code
// is public interface (clients and the bundled client key on the `type` URI it becomes), so a code
// is never renamed; the status, title and Retry-After of a code are decided here, once, and a
// throw site only says which problem it is and why (`problem('invalid-cursor', detail)`).
// Domain errors (store, writer, spool, retention) become problems in src/errors.ts.
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export const PROBLEM_TYPE_BASE = 'https://audithouse.dev/problems/';

/** The title of a problem is its status's reason phrase (RFC 9110), so a client can show it as is. */
const REASON_PHRASES: Partial<Record<number, string>> = {
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

export const reasonPhrase = (status: number): string | undefined => REASON_PHRASES[status];

export interface ProblemSpec {
  status: ContentfulStatusCode;
  /**
   * Seconds to wait before retrying (the Retry-After header), when retrying can succeed.
   * 'per-request': the throw site knows (a rate-limit window's reset); absent: do not retry as is.
   */
  retryAfter?: number | 'per-request';
  /** Headers every answer with this code carries. */
  headers?: Readonly<Record<string, string>>;
}

// Generic so each entry keeps its literal status (src/openapi.ts declares only catalogued ones).
const spec = <S extends ContentfulStatusCode>(status: S, more: Omit<ProblemSpec, 'status'> = {}) => ({ status, ...more });

export const PROBLEMS = {
  // The request itself: not retryable as sent.
  'invalid-parameters': spec(400),
  'invalid-cursor': spec(400),
  'invalid-json': spec(400),
  'invalid-encoding': spec(400),
  'invalid-protobuf': spec(400),
  'invalid-otlp': spec(400),
  /** An HTTPException from a library (e.g. the JSON body validator): its own status, 400 if none. */
  'http-error': spec(400),
  unauthorized: spec(401, { headers: { 'WWW-Authenticate': 'Bearer' } }),
  'missing-scope': spec(403),
  'tenant-forbidden': spec(403),
  'not-found': spec(404),
  'method-not-allowed': spec(405),
  'payload-too-large': spec(413),
  // Retrying the same request cannot help (it can never fit the spool); smaller ones can.
  'too-large-for-spool': spec(413),
  'unsupported-media-type': spec(415),
  'unsupported-encoding': spec(415),
  'invalid-body': spec(422),
  'empty-body': spec(422),
  'invalid-events': spec(422),
  // The state of the service: retry later, with the same event ids.
  'retention-running': spec(409, { retryAfter: 60 }),
  // Not retryable: an operator must look at the archive directory first.
  'archive-inconsistent': spec(409),
  'rate-limited': spec(429, { retryAfter: 'per-request' }),
  'write-rate-limited': spec(429, { retryAfter: 'per-request' }),
  overloaded: spec(429, { retryAfter: 1 }),
  'verification-running': spec(429, { retryAfter: 10 }),
  internal: spec(500),
  'not-implemented': spec(501),
  'store-unavailable': spec(503, { retryAfter: 5 }),
  'spool-full': spec(503, { retryAfter: 10 }),
  'spool-unavailable': spec(503, { retryAfter: 5 }),
  'shutting-down': spec(503, { retryAfter: 1 }),
  'not-ready': spec(503, { retryAfter: 5 }),
  'auth-unavailable': spec(503, { retryAfter: 5 }),
} as const satisfies Record<string, ProblemSpec>;

export type ProblemCode = keyof typeof PROBLEMS;

export const problemType = (code: ProblemCode): string => PROBLEM_TYPE_BASE + code;

export interface FieldError {
  /** Index of the event in the request body (batches), when the error is about one event. */
  index?: number;
  /** JSON path of the offending field, e.g. "details.user" or "severity". */
  field?: string;
  message: string;
}

export interface ProblemOptions {
  /** Validation errors, each naming the event index and field path (the body's `errors[]`). */
  errors?: FieldError[];
  /** Retry-After in seconds, for a code whose wait is 'per-request'. */
  retryAfter?: number;
  /** Headers of this one answer (Allow, RateLimit-*, Connection). */
  headers?: Record<string, string>;
  /** Only for 'http-error': the HTTPException's own status. */
  status?: ContentfulStatusCode;
}

/** The one error type of the API: a catalogued problem and the detail of this occurrence. */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly title: string;
  readonly errors: FieldError[] | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(readonly code: ProblemCode, detail: string, opts: ProblemOptions = {}) {
    super(detail);
    this.name = 'ApiError';
    const entry: ProblemSpec = PROBLEMS[code];
    this.status = code === 'http-error' && opts.status ? opts.status : entry.status;
    this.title = reasonPhrase(this.status) ?? 'Error';
    this.errors = opts.errors;
    const wait = typeof entry.retryAfter === 'number' ? entry.retryAfter : opts.retryAfter;
    this.headers = { ...entry.headers, ...(wait !== undefined ? { 'Retry-After': String(wait) } : {}), ...opts.headers };
  }

  get type(): string {
    return problemType(this.code);
  }
}

/** `throw problem('not-found', 'No event …')`: the catalogue decides the rest. */
export const problem = (code: ProblemCode, detail: string, opts?: ProblemOptions): ApiError => new ApiError(code, detail, opts);
