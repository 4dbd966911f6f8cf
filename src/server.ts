// `audithouse serve`: migrations, services, the HTTP server, and a clean SIGTERM.
import { serve as serveNode } from '@hono/node-server';
import type { Server } from 'node:http';
import { createApp } from './app.ts';
import { mintToken, resolveJwtSecret } from './auth/jwt.ts';
import type { Config } from './config.ts';
import { createLogger } from './logger.ts';
import { startRetentionSchedule } from './retention/schedule.ts';
import { startServices, type StartedServices } from './services.ts';
import { startSinks } from './sinks/index.ts';

/**
 * Against slow clients (slowloris) and stuck readers. Headers must arrive within 15 s and a whole
 * request (at most 10 MiB of body) within 60 s; an idle keep-alive socket closes after 5 s; a
 * socket with no progress either way for 2 min is destroyed (Node lets one extra period pass
 * while a write is pending), so a client that stops reading an export loses the connection and
 * the query stops. Node enforces the first two on a timer, checked every 2 s.
 */
export const SERVER_TIMEOUTS = {
  headersTimeout: 15_000,
  requestTimeout: 60_000,
  keepAliveTimeout: 5_000,
  socketIdleTimeout: 120_000,
  connectionsCheckingInterval: 2_000,
};
export type ServerTimeouts = typeof SERVER_TIMEOUTS;

export async function serve(config: Config, opts: { timeouts?: Partial<ServerTimeouts> } = {}): Promise<{ close(): Promise<void>; port: number; server: Server; services: StartedServices }> {
  const log = createLogger(config.log);
  const services = await startServices(config, log);
  const app = createApp(services);
  const timeouts = { ...SERVER_TIMEOUTS, ...opts.timeouts };
  const retention = startRetentionSchedule(services);
  const sinks = startSinks(services);

  const server = await new Promise<Server>((resolve) => {
    const s = serveNode({
      fetch: app.fetch,
      port: config.port,
      hostname: config.host,
      serverOptions: {
        headersTimeout: timeouts.headersTimeout,
        requestTimeout: timeouts.requestTimeout,
        keepAliveTimeout: timeouts.keepAliveTimeout,
        connectionsCheckingInterval: timeouts.connectionsCheckingInterval,
      },
    }, () => resolve(s as Server));
  });
  server.setTimeout(timeouts.socketIdleTimeout, (socket) => socket.destroy());
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log.info({ port, store: services.store.kind, database: services.store.database }, 'audithouse listening');

  const { dev } = resolveJwtSecret(config);
  if (dev) await printDevWelcome(dev.secret, dev.file, port, config.jwt.maxTtlS);

  // Graceful stop: no new connections, new posts refused (503 + Connection: close), queued
  // batches made durable, the spool replayed for at most half the shutdown timeout (what is
  // left stays fsynced on disk for the next start). The serve verb exits anyway at the timeout:
  // every acknowledged event is already stored or spooled, so nothing acknowledged is lost.
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const started = Date.now();
      log.info({ timeoutMs: config.shutdownTimeoutMs }, 'shutting down: refusing new writes, flushing batches, draining the spool');
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      retention.stop();
      await sinks.stop(); // a batch in flight finishes or is resent from the checkpoint next time
      await services.shutdown({ drainDeadline: started + config.shutdownTimeoutMs / 2 });
      server.closeAllConnections();
      await stopped;
      log.info({ ms: Date.now() - started }, 'shutdown complete');
    })());
  return { close, port, server, services };
}

async function printDevWelcome(secret: string, file: string, port: number, maxTtlS: number | undefined) {
  // Within AUDIT_JWT_MAX_TTL when one is set, or the printed token would be refused.
  const lifetimeS = Math.min(30 * 86_400, maxTtlS ?? Infinity);
  const validFor = lifetimeS % 86_400 === 0 ? `${lifetimeS / 86_400} days` : `${lifetimeS} seconds`;
  const token = await mintToken(secret, { tenant: 'default', scope: 'audit:read audit:write audit:admin', sub: 'dev-admin', expiresIn: lifetimeS });
  const base = `http://localhost:${port}`;
  // Printed on purpose, to the terminal only: a development secret exists to be used at once.
  process.stdout.write(`
  No AUDIT_JWT_SECRET or AUDIT_JWKS_URL set: using a development secret (${file}).
  An admin token for tenant "default", valid ${validFor}:

    export TOKEN=${token}

  Try it:

    curl -s -X POST ${base}/api/v1/audit/activities \\
      -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
      -d '{"activity_type":"user.login","action":"login","description":"first event"}'
    curl -s ${base}/api/v1/audit/activities -H "Authorization: Bearer $TOKEN"

  More tokens: npx audithouse token --tenant T --scope "audit:read audit:write"

`);
}

/** The `serve` verb: runs until SIGTERM/SIGINT; a second signal or the shutdown timeout exits at once. */
export async function serveCommand(_args: string[], config: Config): Promise<number> {
  const server = await serve(config);
  let signals = 0;
  const onSignal = (sig: string) => {
    signals++;
    // Exiting early is safe: a 202 was only sent once its events were stored or fsynced into the spool.
    if (signals > 1) {
      process.stderr.write(`second ${sig}: exiting now; acknowledged events are stored or spooled\n`);
      process.exit(1);
    }
    setTimeout(() => {
      process.stderr.write(`shutdown timeout (${config.shutdownTimeoutMs} ms) passed: exiting; the spool is replayed at the next start\n`);
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    server.close().then(() => process.exit(0), (err) => {
      process.stderr.write(`shutdown failed: ${String(err)}\n`);
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  return new Promise<number>(() => {}); // runs until a signal
}
