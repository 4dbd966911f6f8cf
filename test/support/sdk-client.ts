// The SDK client tests' fixture: an AuditClient writing as one tenant of the running service
// (straight to it, or through a fake front), with every delivery problem it reports collected.
import { AuditClient, type AuditClientOptions, type AuditDeliveryError } from '../../src/sdk/client/index.ts';
import type { RunningService } from './running-service.ts';

/** Delivery settings of a tenant client; `url` (a front before the service) defaults to the service itself. */
export type TenantClientOptions = Omit<AuditClientOptions, 'url' | 'token' | 'getToken' | 'onError'> & { url?: string };

/** A client holding a token for `tenant`, and the errors it reports through onError, in order. */
export async function tenantClient(svc: RunningService, tenant: string, options: TenantClientOptions = {}) {
  const errors: AuditDeliveryError[] = [];
  const client = new AuditClient({
    url: svc.url,
    token: await svc.token({ tenant }),
    ...options,
    onError: (e) => errors.push(e),
  });
  return { client, errors };
}
