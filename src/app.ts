// Builds the Hono app from the capability routers. Shared by the server and the tests.
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { requestId } from 'hono/request-id';
import { matchedRoutes } from 'hono/route';
import { analyticsRoutes } from './analytics/routes.ts';
import { authenticate, noStore } from './auth/middleware.ts';
import { mountApiDocs } from './docs/routes.ts';
import { archiveRoutes } from './archive/routes.ts';
import type { AppEnv, Services } from './env.ts';
import { ApiError, badRequest, handleError, notFound } from './errors.ts';
import { healthRoutes } from './health/routes.ts';
import { accessLoggerOf, lazyChild } from './logger.ts';
import { scrubLogString } from './log-redact.ts';
import { ingestRoutes } from './ingest/routes.ts';
import { integrityRoutes } from './integrity/routes.ts';
import { otlpRoutes } from './otlp/routes.ts';
import { queryRoutes } from './query/routes.ts';
import { auditReads } from './query/access-log.ts';
import { exportRoutes } from './query/export.ts';
import { retentionRoutes } from './retention/routes.ts';

export function createApp(services: Services) {
  const app = new OpenAPIHono<AppEnv>({
    // Query/param validation failures become 400 problem+json naming each field.
    defaultHook: (result) => {
      if (!result.success) {
        const errors = result.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message }));
        throw badRequest('invalid-parameters', `Invalid request parameters: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, errors);
      }
    },
  });

  const access = accessLoggerOf(services.log);
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
      return handleError(new ApiError(405, 'method-not-allowed', `${c.req.method} is not allowed on ${c.req.path}; allowed: ${allowed.join(', ')}.`, {
        headers: { Allow: allowed.join(', ') },
      }), c);
    }
    return handleError(notFound(`No route for "${c.req.method} ${c.req.path}".`), c);
  });

  app.use('/api/*', noStore);
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

/**
 * The route template for logs and metric labels (bounded: never the concrete path). When a
 * middleware answered (e.g. 401 from authenticate), it names the route that would have answered,
 * so an ingest 401 counts under the ingest route; nothing matched is "unmatched".
 */
function routeLabel(c: Context<AppEnv>): string {
  const routes = matchedRoutes(c);
  const answered = routes[c.req.routeIndex];
  if (answered && answered.method !== 'ALL') return answered.path;
  return routes.find((r) => r.method !== 'ALL')?.path ?? 'unmatched';
}

/** The methods registered for a path (for 405 + Allow), from the app's own route table. */
function allowedMethods(routes: ReadonlyArray<{ method: string; path: string }>, path: string): string[] {
  const methods = new Set<string>();
  for (const r of routes) {
    if (r.method === 'ALL' || r.path.includes('*')) continue; // middleware, not endpoints
    const pattern = new RegExp(`^${r.path.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_]+/g, '[^/]+')}$`);
    if (pattern.test(path)) methods.add(r.method);
  }
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort();
}
