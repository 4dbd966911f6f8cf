// GET /api/v1/audit/archives (audit:admin): the archive catalog, oldest first, with row counts
// and checksums (the same SHA-256 the manifests and `archive verify` check).
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { requireScope } from '../auth/middleware.ts';
import type { AppEnv } from '../env.ts';
import { problemResponses } from '../openapi.ts';
import { queryInt, seqCursor } from '../params.ts';
import { listArchives } from './catalog.ts';

export const ArchiveSchema = z
  .object({
    seq: z.number().int().openapi({ description: 'Position in the manifest chain' }),
    partition: z.string().openapi({ example: '202501' }),
    severity: z.string(),
    file: z.string().openapi({ description: 'Data file, relative to AUDIT_ARCHIVE_LOCATION' }),
    manifest: z.string(),
    row_count: z.number().int(),
    file_bytes: z.number().int(),
    file_sha256: z.string(),
    manifest_sha256: z.string(),
    prev_manifest_sha256: z.string(),
    first_timestamp: z.string(),
    last_timestamp: z.string(),
    cutoff: z.string(),
    schema_version: z.number().int(),
    key_id: z.string(),
    created_at: z.string(),
    state: z.enum(['archived', 'deleted']).openapi({ description: 'deleted: its rows have left audit_activities' }),
    deleted_rows: z.number().int(),
    deleted_at: z.string().nullable(),
  })
  .openapi('Archive');

const listRoute = createRoute({
  method: 'get',
  path: '/api/v1/audit/archives',
  tags: ['retention'],
  operationId: 'listArchives',
  summary: 'List archives written by the retention job',
  security: [{ bearerAuth: [] }],
  middleware: [requireScope('audit:admin')] as const,
  request: {
    query: z.strictObject({
      limit: queryInt(1, 1000).default(100),
      cursor: seqCursor.optional(),
    }),
  },
  responses: {
    200: {
      description: 'Archives in chain order',
      content: { 'application/json': { schema: z.object({ data: z.array(ArchiveSchema), next_cursor: z.string().nullable() }).openapi('ArchivePage') } },
      links: { nextPage: { operationId: 'listArchives', parameters: { cursor: '$response.body#/next_cursor' }, description: 'The next page; only while next_cursor is not null' } },
    },
    ...problemResponses(400, 401, 403),
  },
});

export function archiveRoutes() {
  return new OpenAPIHono<AppEnv>().openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    const data = await listArchives(c.get('services').store, { limit: q.limit, afterSeq: q.cursor ? Number(q.cursor) : undefined });
    const last = data.at(-1);
    return c.json({ data, next_cursor: data.length === q.limit && last ? String(last.seq) : null }, 200);
  });
}
