// Size and time limits of an event (contract: over them 413/422, nothing half-stored).

export const MAX_EVENT_BYTES = 64 * 1024;
export const MAX_BATCH_EVENTS = 10_000;
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;
/** Events more than this far in the future are refused (clock skew allowance). */
export const MAX_FUTURE_MS = 5 * 60 * 1000;
/** DateTime64 and TTL arithmetic start at the Unix epoch; older timestamps are refused. */
export const MIN_TIMESTAMP_MS = 0;
