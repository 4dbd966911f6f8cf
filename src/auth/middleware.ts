// Bearer-token authentication and scope checks for /api routes.
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env.ts';
import { lazyChild } from '../logger.ts';
import { problem } from '../problems.ts';
import { hasScope, type Principal, type Scope } from './principal.ts';

export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const header = c.req.header('Authorization');
  if (!header) throw problem('unauthorized', 'This endpoint needs a bearer token: Authorization: Bearer <JWT>.');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw problem('unauthorized', 'The Authorization header must be "Bearer <JWT>".');
  const principal = await c.get('services').verifier.verify(match[1]!);
  c.set('principal', principal);
  c.set('log', lazyChild(c.get('services').log, { request_id: c.get('requestId'), tenant: principal.tenantId, sub: principal.sub }));
  await next();
};

export const requireScope = (scope: Scope): MiddlewareHandler<AppEnv> => async (c, next) => {
  if (!hasScope(c.get('principal'), scope)) {
    throw problem('missing-scope', `This endpoint needs the "${scope}" scope; the token has "${[...c.get('principal').scopes].join(' ') || 'none'}".`);
  }
  await next();
};

/**
 * The tenant a read is bound to: the token's own, or, for audit:admin only, one named
 * explicitly with `tenant_id`. A non-admin naming any other tenant is refused, not ignored.
 */
export function readTenant(c: Context<AppEnv>, requested: string | undefined): string {
  const p: Principal = c.get('principal');
  if (requested === undefined || requested === p.tenantId) {
    c.set('accessTenant', p.tenantId);
    return p.tenantId;
  }
  if (hasScope(p, 'audit:admin')) {
    c.set('accessTenant', requested);
    return requested;
  }
  throw problem('tenant-forbidden', 'Only an audit:admin token may read another tenant (tenant_id parameter).');
}

/** Audit data must not sit in browser or proxy caches. */
export const noStore: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  c.res.headers.set('Cache-Control', 'no-store');
};
