// Why the spool refused an append. The ingest route turns both into 503 + Retry-After: the
// client keeps its events and retries with the same ids (stored once).

/** AUDIT_SPOOL_MAX_BYTES reached: the store has been down (or slow) for long enough to fill it. */
export class SpoolFullError extends Error {
  override readonly name = 'SpoolFullError';
  constructor(readonly maxBytes: number) {
    super(`the spool is full (${maxBytes} bytes)`);
  }
}

/** The spool's disk failed (write or fsync error) or the spool is closed. */
export class SpoolUnavailableError extends Error {
  override readonly name = 'SpoolUnavailableError';
}

/** Another live process holds this spool directory. */
export class SpoolLockedError extends Error {
  override readonly name = 'SpoolLockedError';
}
