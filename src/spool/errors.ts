// Why the spool refused an append. The ingest route turns both into 503 + Retry-After: the
// client keeps its events and retries with the same ids (stored once).

/** AUDIT_SPOOL_MAX_BYTES reached: the store has been down (or slow) for long enough to fill it. */
export class SpoolFullError extends Error {
  override readonly name = 'SpoolFullError';
  constructor(readonly maxBytes: number) {
    super(`the spool is full (${maxBytes} bytes)`);
  }
}

/** One request larger than the whole spool: it can never be spooled, so retrying cannot help. */
export class SpoolTooSmallError extends Error {
  override readonly name = 'SpoolTooSmallError';
  constructor(readonly bytes: number, readonly maxBytes: number) {
    super(`the request needs ${bytes} bytes of spool; the spool holds at most ${maxBytes}`);
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
