// `audithouse/hono`: audit middleware for Hono services. It knows who is calling (the JWT payload
// the host app already verified, or a resolver), gives handlers `c.get('audit').log(...)` with that
// context filled in, and records an `api.request` activity per chosen request: method, route,
// status and duration, failing handlers included.
import type { Context, MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { AuditEventInput, Severity } from '../client/types.ts';

/** Anything with the AuditClient's log(): the client itself, or a wrapper. */
export interface AuditSink {
  log(event: AuditEventInput): string;
}

export interface RequestIdentity {
  user_id?: string | undefined;
  tenant_id?: string | undefined;
}

/** What handlers get as `c.get('audit')`. */
export interface RequestAudit {
  /**
   * Logs an event for this request: user, tenant, client IP, user agent and request id are
   * filled in unless the event sets them. Returns the event id at once (never waits).
   */
  log(event: AuditEventInput): string;
  /** The caller as the middleware resolved it (read when called, so later auth middleware counts). */
  identity(): RequestIdentity;
}

export type AuditVariables = { audit: RequestAudit };

export interface AuditMiddlewareOptions {
  client: AuditSink;
  /**
   * Who is calling. Default: the payload a JWT middleware verified (`c.get('jwtPayload')`, as
   * hono/jwt sets it), `sub` as user and `tenant_id` as tenant (see `claims`).
   */
  identify?: (c: Context) => RequestIdentity | undefined;
  /** Context variable holding the verified JWT payload. Default 'jwtPayload'. */
  jwtPayloadKey?: string;
  /** Claim names in that payload. Default { user: 'sub', tenant: 'tenant_id' }. */
  claims?: { user?: string; tenant?: string };
  /**
   * Which requests become `api.request` activities: true (all that pass the middleware, the
   * default), false (none; handlers still get c.get('audit')), route patterns or paths
   * ('/files/:id', '/admin/*'), or a predicate called after the handler ran.
   */
  requests?: boolean | string[] | ((c: Context) => boolean);
  /** Severity of an `api.request` by status. Default: MEDIUM for 5xx, LOW otherwise. */
  requestSeverity?: (status: number) => Severity;
  /** Client IP of a request. Default: X-Forwarded-For's first hop when trustProxy, else the Node socket's address. */
  ip?: (c: Context) => string | undefined;
  /** Trust X-Forwarded-For (only behind a proxy you control). Default false. */
  trustProxy?: boolean;
  /**
   * user_id when no caller is known (no token, a refused token). Default 'anonymous': left
   * empty, the service would put the posting service's own `sub` there.
   */
  anonymousUser?: string;
}

/**
 * @example
 * const app = new Hono<{ Variables: AuditVariables }>();
 * app.use('/api/*', jwt({ secret, alg: 'HS256' }), audit({ client }));
 * app.post('/api/files', (c) => { c.get('audit').log({ activity_type: 'file.uploaded', action: 'file_upload' }); ... });
 */
export function audit(options: AuditMiddlewareOptions): MiddlewareHandler<{ Variables: AuditVariables }> {
  const { client } = options;
  const identify = options.identify ?? jwtIdentity(options.jwtPayloadKey ?? 'jwtPayload', options.claims?.user ?? 'sub', options.claims?.tenant ?? 'tenant_id');
  const severity = options.requestSeverity ?? ((s: number) => (s >= 500 ? 'MEDIUM' : 'LOW'));
  const ipOf = options.ip ?? ((c: Context) => clientIp(c, options.trustProxy ?? false));
  const anonymous = options.anonymousUser ?? 'anonymous';

  return async (c, next) => {
    const started = performance.now();
    const identity = () => safe(() => identify(c)) ?? {};
    const context = (): Partial<AuditEventInput> => {
      const who = identity();
      return compact({
        user_id: clip(who.user_id, 256) ?? anonymous,
        tenant_id: clip(who.tenant_id, 128),
        ip_address: clip(safe(() => ipOf(c)), 64),
        user_agent: clip(c.req.header('User-Agent'), 1024),
        request_id: clip(requestIdOf(c), 128),
      });
    };
    c.set('audit', {
      log: (event) => client.log({ ...context(), ...event }),
      identity,
    });

    let thrown: unknown;
    try {
      await next();
    } catch (err) {
      thrown = err; // only when no onError turned it into a response; recorded, then rethrown
      throw err;
    } finally {
      const status = thrown === undefined ? c.res.status : statusOf(thrown);
      if (shouldRecord(options.requests ?? true, c)) {
        const route = routeOf(c);
        const method = c.req.method;
        const error = thrown ?? c.error;
        client.log({
          ...context(),
          activity_type: 'api.request',
          action: 'api_request',
          severity: severity(status),
          outcome: status >= 400 ? 'failure' : 'success',
          description: `${method} ${route} -> ${status}`,
          resource_type: 'http_route',
          resource_id: clip(`${method} ${route}`, 512),
          details: {
            method,
            route,
            path: c.req.path.slice(0, 2048),
            status,
            duration_ms: Math.round((performance.now() - started) * 10) / 10,
            // The error's class only: messages can carry data that has no place in an audit log.
            ...(error instanceof Error ? { error: errorClass(error) } : {}),
          },
        });
      }
    }
  };
}

function jwtIdentity(key: string, userClaim: string, tenantClaim: string) {
  return (c: Context): RequestIdentity | undefined => {
    const payload = (c.get as (k: string) => unknown)(key);
    if (!payload || typeof payload !== 'object') return undefined;
    const p = payload as Record<string, unknown>;
    return {
      user_id: typeof p[userClaim] === 'string' ? (p[userClaim] as string) : undefined,
      tenant_id: typeof p[tenantClaim] === 'string' ? (p[tenantClaim] as string) : undefined,
    };
  };
}

function shouldRecord(rule: NonNullable<AuditMiddlewareOptions['requests']>, c: Context): boolean {
  if (typeof rule === 'boolean') return rule;
  if (typeof rule === 'function') return safe(() => rule(c)) === true;
  const route = routeOf(c);
  return rule.some((p) => p === route || p === c.req.path || (p.endsWith('*') && c.req.path.startsWith(p.slice(0, -1))));
}

/** The route pattern that answered ('/files/:id'), so one route is one label, not one per id. */
function routeOf(c: Context): string {
  return safe(() => routePath(c)) || c.req.path;
}

function requestIdOf(c: Context): string | undefined {
  const fromMiddleware = safe(() => (c.get as (k: string) => unknown)('requestId'));
  return typeof fromMiddleware === 'string' ? fromMiddleware : c.req.header('X-Request-Id');
}

function clientIp(c: Context, trustProxy: boolean): string | undefined {
  if (trustProxy) {
    const hop = c.req.header('X-Forwarded-For')?.split(',')[0]?.trim();
    if (hop) return hop;
  }
  // @hono/node-server puts the Node request on c.env.incoming; other runtimes: pass `ip`.
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress;
}

/** The class name (HTTPException does not set `name`), else `name`. */
function errorClass(err: Error): string {
  const ctor = err.constructor?.name;
  return (ctor && ctor !== 'Object' ? ctor : err.name).slice(0, 128);
}

/** HTTPException (and look-alikes) carry their status; anything else thrown is a 500. */
function statusOf(err: unknown): number {
  const s = (err as { status?: unknown } | null)?.status;
  return typeof s === 'number' && s >= 400 && s <= 599 ? s : 500;
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/** The service refuses empty or over-long labels; an unknown value is left out instead. */
function clip(v: string | undefined, max: number): string | undefined {
  if (typeof v !== 'string' || v.length === 0) return undefined;
  return v.length > max ? v.slice(0, max) : v;
}

function compact<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
