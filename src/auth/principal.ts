// Who is calling: taken from a verified JWT, never from the request body or query.
export const SCOPES = ['audit:write', 'audit:read', 'audit:admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface Principal {
  /** `sub`: the user or service the token was issued to. */
  sub: string;
  /** `tenant_id` claim: the only tenant this caller sees unless it is an admin. */
  tenantId: string;
  scopes: ReadonlySet<string>;
}

/** `audit:admin` is a superset of the other scopes. */
export function hasScope(p: Principal, scope: Scope): boolean {
  return p.scopes.has(scope) || p.scopes.has('audit:admin');
}
