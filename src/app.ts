// Builds the Hono app from the capability routers. Shared by the server and the tests.
import { OpenAPIHono } from '@hono/zod-openapi';
import { requestId } from 'hono/request-id';
import { authenticate } from './auth/middleware.ts';
import type { AppEnv, Services } from './env.ts';
import { badRequest, handleError, notFound } from './errors.ts';
import { healthRoutes } from './health/routes.ts';
import { ingestRoutes } from './ingest/routes.ts';
import { integrityRoutes } from './integrity/routes.ts';
import { queryRoutes } from './query/routes.ts';

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

  app.use(requestId());
  app.use(async (c, next) => {
    const start = performance.now();
    c.set('services', services);
    c.set('log', services.log.child({ request_id: c.var.requestId }));
    await next();
    const route = c.req.routePath || 'unmatched';
    const seconds = (performance.now() - start) / 1000;
    const status = c.res.status;
    services.metrics.httpRequests.inc({ route, method: c.req.method, status: `${Math.floor(status / 100)}xx` });
    services.metrics.httpDuration.observe({ route, method: c.req.method }, seconds);
    const line = { method: c.req.method, route, path: c.req.path, status, ms: Math.round(seconds * 1000) };
    if (status >= 500) c.var.log.error(line, 'request');
    else c.var.log.info(line, 'request');
  });
  app.onError(handleError);
  app.notFound((c) => handleError(notFound(`No route for ${c.req.method} ${c.req.path}.`), c));

  app.use('/api/*', authenticate);
  app.route('/', healthRoutes());
  app.route('/', ingestRoutes());
  app.route('/', queryRoutes());
  app.route('/', integrityRoutes());

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  return app;
}

export type App = ReturnType<typeof createApp>;
