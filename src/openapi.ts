// Shared OpenAPI pieces: the problem+json schema and the error responses routes declare.
import { z } from '@hono/zod-openapi';
import type { PROBLEMS, ProblemCode } from './problems.ts';

/** A status some catalogued problem answers with (src/problems.ts): nothing else can be declared. */
export type ProblemStatus = (typeof PROBLEMS)[ProblemCode]['status'];

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: 'https://audithouse.dev/problems/invalid-events' }),
    title: z.string().openapi({ example: 'Unprocessable Content' }),
    status: z.number().int().openapi({ example: 422 }),
    detail: z.string(),
    instance: z.string().openapi({ example: '/api/v1/audit/activities' }),
    request_id: z.string().optional(),
    errors: z
      .array(z.object({ index: z.number().int().optional(), field: z.string().optional(), message: z.string() }))
      .optional()
      .openapi({ description: 'Validation errors, each naming the event index and field path' }),
  })
  .openapi('Problem');

const DESCRIPTIONS: Record<ProblemStatus, string> = {
  405: 'Method not allowed on this path (see Allow)',
  400: 'Malformed request (bad JSON, bad parameter)',
  401: 'Missing, invalid or expired bearer token',
  403: 'The token lacks the scope, or names another tenant',
  404: 'Not found',
  409: 'Conflicts with the current state (e.g. a retention run is already in progress)',
  413: 'Over a size limit (64 KiB per event, 10,000 events or 10 MiB per request)',
  415: 'Unsupported Content-Type',
  422: 'Events that fail validation; nothing was stored',
  429: 'Rate limited; see Retry-After',
  500: 'Unexpected error (logged with the request_id)',
  501: 'Not implemented in this deployment',
  503: 'Store unavailable; see Retry-After',
};

export function problemResponses(...statuses: ProblemStatus[]) {
  const out: Record<number, { description: string; content: { 'application/problem+json': { schema: typeof ProblemSchema } } }> = {};
  for (const s of [...statuses, 500 as const]) {
    out[s] = { description: DESCRIPTIONS[s], content: { 'application/problem+json': { schema: ProblemSchema } } };
  }
  return out;
}
