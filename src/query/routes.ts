// The read API: list with filters and a keyset cursor, recent, and by id. Every read is bound
// to the caller's tenant (readTenant) inside the SQL.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { readTenant, requireScope } from '../auth/middleware.ts';
import type { AppEnv } from '../env.ts';
import { problem } from '../problems.ts';
import { AuditEvent } from '../event/model.ts';
import { TenantIdSchema } from '../event/patterns.ts';
import { problemResponses } from '../openapi.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { readOne, readPage } from './pending-reads.ts';
import { ListQuery, RecentQuery, toFilters } from './params.ts';

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const EventPage = z
  .object({
    data: z.array(AuditEvent),
    next_cursor: z.string().nullable().openapi({ description: 'Pass as `cursor` for the next (older) page; null on the last page' }),
  })
  .openapi('EventPage');

const listRoute = createRoute({
  method: 'get',
  path: '/api/v1/audit/activities',
  tags: ['query'],
  operationId: 'listActivities',
  summary: 'List events, newest first',
  security: [{ bearerAuth: [] }],
  middleware: [requireScope('audit:read')] as const,
  request: { query: ListQuery },
  responses: {
    200: {
      description: 'A page of events',
      content: { 'application/json': { schema: EventPage } },
      links: {
        nextPage: {
          operationId: 'listActivities',
          parameters: { cursor: '$response.body#/next_cursor' },
          description: 'The next (older) page, with the same filters; only while next_cursor is not null',
        },
      },
    },
    ...problemResponses(400, 401, 403, 429),
  },
});

const recentRoute = createRoute({
  method: 'get',
  path: '/api/v1/audit/activities/recent',
  tags: ['query'],
  operationId: 'listRecentActivities',
  summary: 'Recent events, newest first',
  security: [{ bearerAuth: [] }],
  middleware: [requireScope('audit:read')] as const,
  request: { query: RecentQuery },
  responses: {
    200: { description: 'Events of the last `days` days', content: { 'application/json': { schema: z.array(AuditEvent) } } },
    ...problemResponses(400, 401, 403, 429),
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/api/v1/audit/activities/{id}',
  tags: ['query'],
  operationId: 'getActivity',
  summary: 'One event by id',
  security: [{ bearerAuth: [] }],
  middleware: [requireScope('audit:read')] as const,
  request: {
    params: z.object({ id: z.string().regex(UUID_RE, 'must be a UUID').openapi({ param: { name: 'id', in: 'path' } }) }),
    query: z.strictObject({ tenant_id: TenantIdSchema.optional().openapi({ description: 'Another tenant to read; audit:admin only' }) }),
  },
  responses: {
    200: { description: 'The event', content: { 'application/json': { schema: AuditEvent } } },
    ...problemResponses(400, 401, 403, 404, 429),
  },
});

export function queryRoutes() {
  return new OpenAPIHono<AppEnv>()
    .openapi(listRoute, async (c) => {
      const q = c.req.valid('query');
      const tenant = readTenant(c, q.tenant_id);
      const cursor = q.cursor ? decodeCursor(q.cursor) : undefined;
      const { store, writer } = c.get('services');
      const data = await readPage(store, writer, tenant, toFilters(q), q.limit, cursor);
      const last = data.at(-1);
      const next_cursor = data.length === q.limit && last ? encodeCursor({ ts: Date.parse(last.timestamp), id: last.id }) : null;
      c.set('accessRows', data.length);
      return c.json({ data, next_cursor }, 200);
    })
    .openapi(recentRoute, async (c) => {
      const q = c.req.valid('query');
      const tenant = readTenant(c, q.tenant_id);
      const since = Date.now() - q.days * 86_400_000;
      const { store, writer } = c.get('services');
      const data = await readPage(store, writer, tenant, { user_id: q.user_id, since }, q.limit);
      c.set('accessRows', data.length);
      return c.json(data, 200);
    })
    .openapi(getRoute, async (c) => {
      const { id } = c.req.valid('param');
      const tenant = readTenant(c, c.req.valid('query').tenant_id);
      c.set('accessResource', id.toLowerCase());
      const event = await readOne(c.get('services').store, c.get('services').writer, tenant, id.toLowerCase());
      c.set('accessRows', event ? 1 : 0);
      if (!event) throw problem('not-found', `No event ${id} in tenant "${tenant}".`);
      return c.json(event, 200);
    });
}
