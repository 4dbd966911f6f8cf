// What erasing a data subject does to one stored row, live or archived: one decision, so the
// table and the archives are erased alike.
import { CANON_COMPACT, ERASED, eraseDetails, erasureMark, maskDetails, personalMac, type PiiPolicy } from './canonical.ts';
import type { MacKeys } from './keys.ts';
import type { EventRow } from '../event/model.ts';

/** What erasing the subject does to one row (live or archived), or undefined when it does not concern them. */
export interface RowErasure {
  role: 'actor' | 'resource' | 'mention';
  actor: boolean;
  resource: boolean;
  /** The personal fields after erasure. */
  after: Pick<EventRow, 'user_id' | 'ip_address' | 'user_agent' | 'resource_id' | 'details'>;
  /** The row's new `erasure` column. */
  mark: string;
  /**
   * The row's `pii_mac` from now on: compact rows store none until erased, so the first erasure
   * keeps the MAC of the values it replaces (their hash needs it); '' leaves the column as it is.
   */
  pii_mac: string;
}

/**
 * Erases subject `x` from one row, under the personal-data policy of the row's stream: as the
 * actor (user, IP, agent, personal details), as a personal resource (resource_id, personal
 * details), or where a personal details value names them.
 */
export function planRowErasure(
  mac: MacKeys, policy: PiiPolicy,
  row: Pick<EventRow, 'id' | 'tenant_id' | 'user_id' | 'ip_address' | 'user_agent' | 'resource_type' | 'resource_id' | 'details'> & { pii_mac?: string },
  x: string, erasureId: string,
): RowErasure | undefined {
  const actor = row.user_id === x;
  const resource = policy.resourceTypes.has(row.resource_type) && row.resource_id === x;
  const details = eraseDetails(row.details, policy, actor || resource ? () => true : (v) => v === x);
  if (!actor && !resource && details === undefined) return undefined;
  const after = {
    user_id: actor ? ERASED : row.user_id,
    ip_address: actor ? ERASED : row.ip_address,
    user_agent: actor ? ERASED : row.user_agent,
    resource_id: resource ? ERASED : row.resource_id,
    details: details ?? row.details,
  };
  const mark = erasureMark(mac, policy, { ...(row as EventRow), ...after }, erasureId);
  const pii_mac = policy.version >= CANON_COMPACT && !row.pii_mac ? personalMac(mac, policy, row as EventRow, maskDetails(row.details, policy)) : '';
  return { role: actor ? 'actor' : resource ? 'resource' : 'mention', actor, resource, after, mark, pii_mac };
}

