// GET /openapi.json (OpenAPI 3.1, generated from the same zod schemas that validate requests)
// and GET /docs (Scalar's interactive API reference over that document). No auth: the document
// describes the API, it holds no data. The page loads its scripts from this service only, under a
// Content-Security-Policy that allows nothing else: it is where users paste their tokens.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../env.ts';
import { DOCS_INIT_JS, DOCS_INIT_PATH, SCALAR_BUNDLE_PATH, SCALAR_STYLE_HASHES, scalarBundle } from './assets.ts';

// Read at run time so the same code works from src/ (tsx) and from dist/ (built).
const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const DESCRIPTION = `Audit events in, audit events out.

Services post events (one, a JSON array, or NDJSON) with a bearer JWT whose \`tenant_id\` claim
is their tenant and whose \`scope\` holds \`audit:write\`; analysts read them with \`audit:read\`;
\`audit:admin\` reads other tenants and runs retention, archives and erasure.

Errors are RFC 9457 \`application/problem+json\`: \`type\`, \`title\`, \`status\`, \`detail\`,
\`instance\`, \`request_id\`, and for validation \`errors[]\` naming the event index and field.

Query parameters are strict: an unknown one, or an empty value (\`?severity=\`), is a 400 on every
endpoint, like any value outside its declared pattern; leave a parameter out not to filter on it.

The TypeScript client (\`import { AuditClient } from 'audithouse/client'\`) batches, retries and
reads with typed helpers.`;

const documentRoute = createRoute({
  method: 'get',
  path: '/openapi.json',
  tags: ['ops'],
  operationId: 'getOpenApiDocument',
  security: [],
  summary: 'This OpenAPI 3.1 document',
  responses: { 200: { description: 'The document', content: { 'application/json': { schema: z.object({}).passthrough() } } } },
});

const referenceRoute = createRoute({
  method: 'get',
  path: '/docs',
  tags: ['ops'],
  operationId: 'getApiReference',
  security: [],
  summary: 'Interactive API reference (Scalar) over /openapi.json',
  responses: { 200: { description: 'HTML page', content: { 'text/html': { schema: z.string() } } } },
});

const DOCUMENT_CONFIG = {
  openapi: '3.1.0',
  info: {
    title: 'audithouse',
    version: pkg.version,
    description: DESCRIPTION,
    license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
  },
  // Relative: right behind any host name or proxy that serves this document.
  servers: [{ url: '/', description: 'This audithouse instance' }],
  // One per capability; every operation carries exactly one of them.
  tags: [
    { name: 'ingest', description: 'Posting events (audit:write): native and OTLP/HTTP' },
    { name: 'query', description: 'Reading events (audit:read, tenant-scoped): list, recent, by id, export' },
    { name: 'analytics', description: 'Aggregates over the last days (audit:read)' },
    { name: 'retention', description: 'The retention/archive job and its archives (audit:admin)' },
    { name: 'integrity', description: 'Hash-chain verification and erasure (audit:admin)' },
    { name: 'ops', description: 'Health, readiness, metrics, this document and its reference (no token)' },
  ],
};

/** Mounts both on the root app: the document must see every router's routes. */
export function mountApiDocs(app: OpenAPIHono<AppEnv>): void {
  // Generated per request (as doc31 does), from the registry every router has filled by now.
  app.openapi(documentRoute, (c) => c.json(app.getOpenAPI31Document(DOCUMENT_CONFIG), 200));
  app.openapi(referenceRoute, (c) => {
    const nonce = crypto.randomBytes(16).toString('base64');
    c.header('Content-Security-Policy', docsCsp(nonce));
    c.header('Cache-Control', 'no-store');
    return c.html(docsPage(nonce), 200);
  });
  // The page's own scripts: assets, not API operations, so not in the document.
  app.get(SCALAR_BUNDLE_PATH, (c) => {
    const { raw, gzip } = scalarBundle();
    const gzipped = /\bgzip\b/i.test(c.req.header('Accept-Encoding') ?? '');
    c.header('Content-Type', 'text/javascript; charset=utf-8');
    c.header('Cache-Control', 'public, max-age=31536000, immutable');
    c.header('Vary', 'Accept-Encoding');
    if (gzipped) c.header('Content-Encoding', 'gzip');
    return c.body(new Uint8Array(gzipped ? gzip : raw));
  });
  app.get(DOCS_INIT_PATH, (c: Context<AppEnv>) => c.body(DOCS_INIT_JS, 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-cache' }));
}

/**
 * Scripts from this origin only, no inline script at all. The bundle's main stylesheet carries the
 * page's nonce (it reads meta[property=csp-nonce]), two fixed ones are allowed by hash; style
 * attributes (Vue's static markup) are allowed, as they cannot run code and every load they could
 * name is held to img-src/font-src. Fetches go to this origin only (the document, "Try it").
 */
function docsCsp(nonce: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' 'nonce-${nonce}' ${SCALAR_STYLE_HASHES.map((h) => `'${h}'`).join(' ')}`,
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const docsPage = (nonce: string) => `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta property="csp-nonce" content="${nonce}" />
    <title>audithouse API reference</title>
  </head>
  <body>
    <div id="app"></div>
    <script src="${SCALAR_BUNDLE_PATH}"></script>
    <script src="${DOCS_INIT_PATH}"></script>
  </body>
</html>
`;
