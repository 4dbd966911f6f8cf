// `audithouse serve`: migrations, services, the HTTP server, and a clean SIGTERM.
import { serve as serveNode } from '@hono/node-server';
import type { Server } from 'node:http';
import { createApp } from './app.ts';
import { mintToken, resolveJwtSecret } from './auth/jwt.ts';
import type { Config } from './config.ts';
import { createLogger } from './logger.ts';
import { startRetentionSchedule } from './retention/schedule.ts';
import { startServices } from './services.ts';

export async function serve(config: Config): Promise<{ close(): Promise<void>; port: number }> {
  const log = createLogger(config.log);
  const services = await startServices(config, log);
  const app = createApp(services);
  const retention = startRetentionSchedule(services);

  const server = await new Promise<Server>((resolve) => {
    const s = serveNode({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(s as Server));
  });
  // Slow clients must not hold sockets forever (slowloris); bodies are at most 10 MiB.
  server.requestTimeout = 60_000;
  server.headersTimeout = 15_000;
  server.keepAliveTimeout = 5_000;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log.info({ port, store: services.store.kind, database: services.store.database }, 'audithouse listening');

  const { dev } = resolveJwtSecret(config);
  if (dev) await printDevWelcome(dev.secret, dev.file, port);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      log.info('shutting down: no new connections, flushing batches');
      await new Promise<void>((resolve) => server.close(() => resolve()));
      retention.stop();
      await services.shutdown();
      log.info('shutdown complete');
    })());
  return { close, port };
}

async function printDevWelcome(secret: string, file: string, port: number) {
  const token = await mintToken(secret, { tenant: 'default', scope: 'audit:read audit:write audit:admin', sub: 'dev-admin' });
  const base = `http://localhost:${port}`;
  // Printed on purpose, to the terminal only: a development secret exists to be used at once.
  process.stdout.write(`
  No AUDIT_JWT_SECRET or AUDIT_JWKS_URL set: using a development secret (${file}).
  An admin token for tenant "default", valid 30 days:

    export TOKEN=${token}

  Try it:

    curl -s -X POST ${base}/api/v1/audit/activities \\
      -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
      -d '{"activity_type":"user.login","action":"login","description":"first event"}'
    curl -s ${base}/api/v1/audit/activities -H "Authorization: Bearer $TOKEN"

  More tokens: npx audithouse token --tenant T --scope "audit:read audit:write"

`);
}
