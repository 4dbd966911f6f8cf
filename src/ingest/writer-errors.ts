// Why the writer refused a write; the API answers them 503 and 429 (src/ingest/routes.ts).

/** The writer is shutting down: the request should go to another instance or be retried. */
export class WriterClosedError extends Error {
  override readonly name = 'WriterClosedError';
}

/** Too many rows wait (memory, or a full log while the store works but lags): back off and retry. */
export class WriterOverloadedError extends Error {
  override readonly name = 'WriterOverloadedError';
}
