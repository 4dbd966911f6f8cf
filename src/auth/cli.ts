// `audithouse token --tenant T --scope "..." [--sub U] [--days N]`: mint an HS256 token with
// AUDIT_JWT_SECRET or the dev secret, held to the same claim rules the service checks.
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { claimProblem, mintToken, resolveJwtSecret } from './jwt.ts';
import { SCOPES } from './principal.ts';

export async function tokenCommand(args: string[], config: Config): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { tenant: { type: 'string' }, scope: { type: 'string' }, sub: { type: 'string' }, days: { type: 'string' } },
    strict: true,
  });
  if (!values.tenant || !values.scope) {
    process.stderr.write('token needs --tenant T and --scope "audit:read audit:write ..."\n');
    return 2;
  }
  // The server's own rules for these claims: a token the CLI mints is one the service accepts.
  const problem = claimProblem('tenant_id', values.tenant, 128) ?? (values.sub !== undefined ? claimProblem('sub', values.sub, 256) : undefined);
  if (problem) {
    process.stderr.write(`${problem.replace('The bearer token', 'The token')}\n`);
    return 2;
  }
  const unknown = values.scope.split(/\s+/).filter((s) => s && !(SCOPES as readonly string[]).includes(s));
  if (unknown.length) {
    process.stderr.write(`unknown scope(s): ${unknown.join(', ')}; known: ${SCOPES.join(', ')}\n`);
    return 2;
  }
  const { secret } = resolveJwtSecret(config);
  if (!secret) {
    process.stderr.write('tokens can only be minted with AUDIT_JWT_SECRET (or the dev secret); with AUDIT_JWKS_URL your identity provider issues them\n');
    return 2;
  }
  const maxTtlS = config.jwt.maxTtlS;
  // Default 30 days, or AUDIT_JWT_MAX_TTL when shorter: the service would refuse a longer token.
  const days = values.days ? Number(values.days) : Math.min(30, (maxTtlS ?? Infinity) / 86400);
  if (!Number.isFinite(days) || days <= 0 || days > 3650) {
    process.stderr.write('--days must be a number of days between 1 and 3650\n');
    return 2;
  }
  if (maxTtlS !== undefined && Math.round(days * 86400) > maxTtlS) {
    process.stderr.write(`--days ${days} is longer than AUDIT_JWT_MAX_TTL (${maxTtlS} s): the service would refuse the token\n`);
    return 2;
  }
  const token = await mintToken(secret, {
    tenant: values.tenant,
    scope: values.scope,
    ...(values.sub ? { sub: values.sub } : {}),
    expiresIn: Math.round(days * 86400),
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
  });
  process.stdout.write(token + '\n');
  return 0;
}
