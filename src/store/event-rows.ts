// Event rows in and out of audit_activities: the insert encoding and the parse of rows read back.
import { toChTime, type EventRow } from '../event/model.ts';

/** An EventRow's values in EVENT_COLUMNS order (JSONCompactEachRow). */
export function rowValues(r: EventRow): unknown[] {
  return [
    r.id, r.tenant_id, toChTime(r.timestamp), toChTime(r.received_at), r.activity_type, r.severity, r.action,
    r.outcome, r.resource_type, r.user_agent, r.user_id, r.resource_id, r.ip_address, r.request_id,
    r.description, r.details,
  ];
}
