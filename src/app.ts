// Builds the Hono app from the capability routers. Shared by the server and the tests.
import { OpenAPIHono } from '@hono/zod-openapi';
import { requestId } from 'hono/request-id';
import { secureHeaders } from 'hono/secure-headers';
import { matchedRoutes } from 'hono/route';
import { analyticsRoutes } from './analytics/routes.ts';
import { authenticate, noStore } from './auth/middleware.ts';
import { mountApiDocs } from './docs/routes.ts';
import { archiveRoutes } from './archive/routes.ts';
import type { AppEnv, Services } from './env.ts';
import { handleError, routeLabel } from './errors.ts';
import { invalidParameters } from './params.ts';
import { problem } from './problems.ts';
import { healthRoutes } from './health/routes.ts';
import { accessLoggerOf, lazyChild } from './logger.ts';
import { scrubLogString } from './log-redact.ts';
import { ingestRoutes } from './ingest/routes.ts';
import { integrityRoutes } from './integrity/routes.ts';
import { otlpRoutes } from './otlp/routes.ts';
import { queryRoutes } from './query/routes.ts';
import { auditReads, refuseHeadReads } from './query/access-log.ts';
import { exportRoutes } from './query/export.ts';
import { retentionRoutes } from './retention/routes.ts';

export function createApp(services: Services) {
  const app = new OpenAPIHono<AppEnv>({
    // Query/param validation failures become 400 problem+json naming each field.
    defaultHook: (result) => {
      if (!result.success) throw invalidParameters(result.error.issues);
    },
  });

  const access = accessLoggerOf(services.log);
  // Outermost, so every answer carries it (errors, 404/405, streams): a browser never sniffs a
  // JSON, CSV or NDJSON body into HTML or script. The rest of the helmet-style set stays off: an
  // API on plain HTTP behind a proxy has no use for HSTS or frame options (/docs sets its own CSP).
  app.use(secureHeaders({
    xContentTypeOptions: true,
    contentSecurityPolicy: undefined,
    crossOriginEmbedderPolicy: false,
    crossOriginResourcePolicy: false,
    crossOriginOpenerPolicy: false,
    originAgentCluster: false,
    referrerPolicy: false,
    strictTransportSecurity: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xFrameOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
    permissionsPolicy: {},
  }));
  app.use(requestId());
  app.use(async (c, next) => {
    const start = performance.now();
    c.set('services', services);
    c.set('log', lazyChild(services.log, { request_id: c.get('requestId') }));
    await next();
    const route = routeLabel(c);
    const seconds = (performance.now() - start) / 1000;
    const status = c.res.status;
    services.metrics.httpRequests.inc({ route, method: c.req.method, status: `${Math.floor(status / 100)}xx` });
    services.metrics.httpDuration.observe({ route, method: c.req.method }, seconds);
    const line = { method: c.req.method, route, path: c.req.path, status, ms: Math.round(seconds * 1000) };
    // One line per request, through the root logger (no child per request).
    const principal = c.get('principal');
    const fields = {
      request_id: scrubLogString(c.get('requestId')),
      ...(principal ? { tenant: principal.tenantId, sub: scrubLogString(principal.sub) } : {}),
      ...line,
      path: scrubLogString(line.path),
    };
    if (status >= 500) access.error(fields, 'request');
    else access.info(fields, 'request');
  });
  app.onError(handleError);
  app.notFound((c) => {
    const allowed = allowedMethods(app.routes, c.req.path);
    if (allowed.length > 0) {
      return handleError(problem('method-not-allowed', `${c.req.method} is not allowed on ${c.req.path}; allowed: ${allowed.join(', ')}.`, {
        headers: { Allow: allowed.join(', ') },
      }), c);
    }
    return handleError(problem('not-found', `No route for "${c.req.method} ${c.req.path}".`), c);
  });

  app.use('/api/*', noStore);
  app.use('/api/*', refuseHeadReads);
  app.use('/api/*', authenticate);
  app.use('/api/*', auditReads);
  app.use('/api/*', services.readRateLimit.middleware);
  app.route('/', healthRoutes());
  app.route('/', ingestRoutes());
  app.route('/', otlpRoutes());
  app.route('/', queryRoutes());
  app.route('/', exportRoutes());
  app.route('/', analyticsRoutes());
  app.route('/', retentionRoutes());
  app.route('/', archiveRoutes());
  app.route('/', integrityRoutes());

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  mountApiDocs(app);
  return app;
}

export type App = ReturnType<typeof createApp>;

/** The methods registered for a path (for 405 + Allow), from the app's own route table. */
function allowedMethods(routes: ReadonlyArray<{ method: string; path: string }>, path: string): string[] {
  const methods = new Set<string>();
  for (const r of routes) {
    if (r.method === 'ALL' || r.path.includes('*')) continue; // middleware, not endpoints
    const pattern = new RegExp(`^${r.path.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_]+/g, '[^/]+')}$`);
    if (pattern.test(path)) methods.add(r.method);
  }
  // HEAD rides on GET, except under /api where reads must be audited GETs (refuseHeadReads).
  if (methods.has('GET') && !path.startsWith('/api/')) methods.add('HEAD');
  return [...methods].sort();
}
