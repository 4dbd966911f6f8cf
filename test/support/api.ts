// Response types of the API for the tests, derived from the routers' own zod-openapi route
// definitions (the same schemas that validate, document and type the handlers): nothing here is
// redeclared, so a schema change shows up as a type error in the tests that read that field.
import type { ExtractSchema } from 'hono/types';
import type { z } from 'zod';
import type { analyticsRoutes } from '../../src/analytics/routes.ts';
import type { archiveRoutes } from '../../src/archive/routes.ts';
import type { healthRoutes } from '../../src/health/routes.ts';
import type { IngestAccepted, ingestRoutes } from '../../src/ingest/routes.ts';
import type { integrityRoutes } from '../../src/integrity/routes.ts';
import type { ProblemSchema } from '../../src/openapi.ts';
import type { otlpLogsRoute } from '../../src/otlp/openapi.ts';
import type { otlpRoutes } from '../../src/otlp/routes.ts';
import type { exportRoutes } from '../../src/query/export.ts';
import type { queryRoutes } from '../../src/query/routes.ts';
import type { retentionRoutes } from '../../src/retention/routes.ts';

type Routers = [
  typeof healthRoutes, typeof ingestRoutes, typeof otlpRoutes, typeof queryRoutes, typeof exportRoutes,
  typeof analyticsRoutes, typeof retentionRoutes, typeof archiveRoutes, typeof integrityRoutes,
];
type Merge<T extends unknown[]> = T extends [infer H extends () => unknown, ...infer Rest] ? ExtractSchema<ReturnType<H>> & Merge<Rest> : unknown;
/**
 * Ingest and OTLP parse their bodies by hand and register their routes for the document only, so
 * the routers' types do not carry them: their answers are added from the same exported schemas
 * (OTLP's JSON answer, the ExportLogsServiceResponse, from its route definition).
 */
type HandParsed = {
  '/api/v1/audit/activities': { $post: { status: 202; output: z.infer<typeof IngestAccepted> } };
  '/v1/logs': { $post: { status: 200; output: z.infer<(typeof otlpLogsRoute)['responses'][200]['content']['application/json']['schema']> } };
};
/** Path ('/api/v1/audit/activities/:id') → '$get' | '$post' → one entry per documented status. */
export type ApiSchema = Merge<Routers> & HandParsed;
type Route = keyof ApiSchema & string;

/** RFC 9457 problem+json, as every error answer of the API. */
export type Problem = z.infer<typeof ProblemSchema>;

type PathOnly<P extends string> = P extends `${infer Path}?${string}` ? Path : P;
type Shape<R extends string> = R extends `${infer A}:${string}/${infer Rest}` ? `${A}${string}/${Shape<Rest>}` : R extends `${infer A}:${string}` ? `${A}${string}` : R;
/** The route a concrete path (with a query string, with ids filled in) is answered by; a literal route wins over a parameter. */
export type RouteOf<P extends string> = PathOnly<P> extends Route ? PathOnly<P> : { [R in Route]: PathOnly<P> extends Shape<R> ? R : never }[Route];
type Success<E> = E extends { status: 200 | 201 | 202; output: infer O } ? O : never;
type Method = 'get' | 'post';
/**
 * Route → '$get' | '$post' → its success body, worked out once per route. ApiBody looks its
 * answer up here rather than indexing ApiSchema with a route still generic: that indexing made
 * tsc give up (TS2590, "union type too complex") wherever a call of bodyOf or of the fixture's
 * get() had a contextual type, e.g. `expect(await bodyOf(...))` or a declared return type.
 */
type Bodies = { [R in Route]: { [K in keyof ApiSchema[R] & `$${Method}`]: Success<ApiSchema[R][K]> } };

/**
 * The JSON body of a successful answer of `method path`. `any` for a path no route matches at
 * compile time (a plain `string`), as `Response.json()` is today.
 */
export type ApiBody<M extends Method, P extends string> = string extends P
  ? any // eslint-disable-line @typescript-eslint/no-explicit-any
  : [RouteOf<P>] extends [never]
    ? any // eslint-disable-line @typescript-eslint/no-explicit-any
    : Bodies[RouteOf<P>] extends infer B
      ? `$${M}` extends keyof B
        ? B[`$${M}` & keyof B]
        : any // eslint-disable-line @typescript-eslint/no-explicit-any
      : never;

/** A Response whose json() is typed as the route's success body (tests check the status first). */
export interface ApiResponse<T> extends Response {
  json(): Promise<T>;
  clone(): ApiResponse<T>;
}

/** The typed success body of a response to `method path` (for helpers that take a plain Response). */
export const bodyOf = (async (res: Response) => res.json()) as <M extends Method, P extends string>(res: Response, method: M, path: P) => Promise<ApiBody<M, P>>;

/** The problem+json body of an error answer. */
export async function problemOf(res: Response): Promise<Problem> {
  return (await res.json()) as Problem;
}
