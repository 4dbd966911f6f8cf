// The wire format as a client sees it. The stored event, its severities and outcomes are the
// server's own types (src/event/model.ts), imported as types only: the built client runs without
// zod or any server module. The input shape is written out by hand for its client-side defaults;
// test/sdk/client-buffer.test.ts checks it against the server's zod schema at compile time.
import type { AuditEvent, Outcome, Severity } from '../../event/model.ts';

export type { AuditEvent, Outcome, Severity };

/** An event to post. Only `activity_type` and `action` are required. */
export interface AuditEventInput {
  /** Idempotency key. The client fills a UUIDv7 when absent, so retries never duplicate. */
  id?: string;
  /** ISO-8601 with a zone. The client fills the time of `log()` when absent. */
  timestamp?: string;
  /** Dotted lowercase, e.g. `file.uploaded`, `user.login`, `api.request`. */
  activity_type: string;
  /** Default LOW. */
  severity?: Severity;
  /** e.g. `file_upload`. */
  action: string;
  description?: string;
  /** Default success. */
  outcome?: Outcome;
  /** Default: the posting token's `sub`. */
  user_id?: string;
  /** Default: the posting token's tenant; only an audit:admin token may name another. */
  tenant_id?: string;
  resource_type?: string;
  resource_id?: string;
  /** Default: the address of the HTTP request that posted the event (i.e. your service). */
  ip_address?: string;
  user_agent?: string;
  request_id?: string;
  /** Free-form JSON object; sensitive keys are redacted by the server before storage. */
  details?: Record<string, unknown>;
}

/** Filters of GET /api/v1/audit/activities (and the export endpoint). */
export interface ActivityFilters {
  user_id?: string;
  /** One type or several (OR). */
  activity_type?: string | string[];
  /** One severity or several (OR). */
  severity?: Severity | Severity[];
  outcome?: Outcome;
  action?: string;
  resource_type?: string;
  resource_id?: string;
  /** Inclusive lower bound. */
  since?: Date | string;
  /** Exclusive upper bound. */
  until?: Date | string;
  /** Case-insensitive text in description. */
  q?: string;
  /** Another tenant (audit:admin tokens only). */
  tenant_id?: string;
}

export interface ListOptions extends ActivityFilters {
  /** Page size, at most 1000 (server default 100). */
  limit?: number;
  /** `next_cursor` of the previous page. */
  cursor?: string;
}

export interface EventPage {
  data: AuditEvent[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  next_cursor: string | null;
}

export interface RecentOptions {
  /** Default 7. */
  days?: number;
  /** Default 50. */
  limit?: number;
  user_id?: string;
  tenant_id?: string;
}

export interface SummaryOptions {
  days?: number;
  tenant_id?: string;
}

/**
 * GET /api/v1/audit/summary: totals by severity and activity type, a daily series, top users
 * and top resources. Kept open (an index signature) so the client does not pin a shape the
 * server may extend; pass a type argument to `summary<T>()` for a stricter view.
 */
export interface AuditSummary {
  [key: string]: unknown;
}

export interface IngestAccepted {
  accepted: number;
  ids: string[];
}

/** RFC 9457 problem+json, as the service answers errors. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  request_id?: string;
  errors?: Array<{ index?: number; field?: string; message: string }>;
  [key: string]: unknown;
}
