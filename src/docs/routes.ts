// GET /openapi.json (OpenAPI 3.1, generated from the same zod schemas that validate requests)
// and GET /docs (Scalar's interactive API reference over that document). No auth: the document
// describes the API, it holds no data.
import fs from 'node:fs';
import { OpenAPIHono, z } from '@hono/zod-openapi';
import { Scalar } from '@scalar/hono-api-reference';
import type { AppEnv } from '../env.ts';

// Read at run time so the same code works from src/ (tsx) and from dist/ (built).
const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const DESCRIPTION = `Audit events in, audit events out.

Services post events (one, a JSON array, or NDJSON) with a bearer JWT whose \`tenant_id\` claim
is their tenant and whose \`scope\` holds \`audit:write\`; analysts read them with \`audit:read\`;
\`audit:admin\` reads other tenants and runs retention, archives and erasure.

Errors are RFC 9457 \`application/problem+json\`: \`type\`, \`title\`, \`status\`, \`detail\`,
\`instance\`, \`request_id\`, and for validation \`errors[]\` naming the event index and field.

The TypeScript client (\`import { AuditClient } from 'audithouse/client'\`) batches, retries and
reads with typed helpers.`;

/** Mounts both on the root app: the document must see every router's routes. */
export function mountApiDocs(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/openapi.json',
    tags: ['ops'],
    summary: 'This OpenAPI 3.1 document',
    responses: { 200: { description: 'The document', content: { 'application/json': { schema: z.object({}).passthrough() } } } },
  });
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/docs',
    tags: ['ops'],
    summary: 'Interactive API reference (Scalar) over /openapi.json',
    responses: { 200: { description: 'HTML page', content: { 'text/html': { schema: z.string() } } } },
  });

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'audithouse',
      version: pkg.version,
      description: DESCRIPTION,
      license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
    },
    // Relative: right behind any host name or proxy that serves this document.
    servers: [{ url: '/', description: 'This audithouse instance' }],
    tags: [
      { name: 'ingest', description: 'Posting events' },
      { name: 'query', description: 'Reading events (tenant-scoped)' },
      { name: 'admin', description: 'Retention, archives, erasure, integrity (audit:admin)' },
      { name: 'ops', description: 'Health, readiness, metrics, this document' },
    ],
  });

  app.get('/docs', Scalar({ url: '/openapi.json', pageTitle: 'audithouse API reference' }));
}
