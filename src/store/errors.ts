// Typed storage errors. `retryable` tells the writer what is worth retrying (and spooling) and
// the API what to answer: a retryable failure is a 503, anything else a logged 500.

// ClickHouse error codes that describe a transient condition of the server, not a bad statement.
const RETRYABLE_CODES = new Set([
  '3', // UNEXPECTED_END_OF_FILE
  '159', // TIMEOUT_EXCEEDED
  '164', // READONLY (e.g. replica in read-only mode)
  '202', // TOO_MANY_SIMULTANEOUS_QUERIES
  '203', // NO_FREE_CONNECTION
  '209', // SOCKET_TIMEOUT
  '210', // NETWORK_ERROR
  '241', // MEMORY_LIMIT_EXCEEDED
  '242', // TABLE_IS_READ_ONLY
  '252', // TOO_MANY_PARTS
  '285', // TOO_FEW_LIVE_REPLICAS
  '319', // UNKNOWN_STATUS_OF_INSERT
  '425', // SYSTEM_ERROR
  '999', // KEEPER_EXCEPTION
]);
const RETRYABLE_NETWORK = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|socket hang up|Timeout error|other side closed/i;

export abstract class StoreError extends Error {
  abstract readonly operation: 'query' | 'insert';
  constructor(
    message: string,
    readonly retryable: boolean,
    /** ClickHouse error code, when the server answered with one. */
    readonly clickhouseCode: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class QueryError extends StoreError {
  readonly operation = 'query' as const;
  override readonly name = 'QueryError';
}

export class InsertError extends StoreError {
  readonly operation = 'insert' as const;
  override readonly name = 'InsertError';
}

export function isRetryable(err: unknown): boolean {
  if (err instanceof StoreError) return err.retryable;
  const code = clickhouseCode(err);
  if (code !== undefined) return RETRYABLE_CODES.has(code);
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    return RETRYABLE_NETWORK.test(`${code} ${err.message}`);
  }
  return false;
}

export function toStoreError(err: unknown, operation: 'query' | 'insert'): StoreError {
  if (err instanceof StoreError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code = clickhouseCode(err);
  const Ctor = operation === 'insert' ? InsertError : QueryError;
  return new Ctor(message, isRetryable(err), code, { cause: err });
}

/**
 * The server's error code, if this is a ClickHouse error. Duck-typed: chDB raises the
 * ClickHouseError class of @clickhouse/client-common, not the copy bundled in @clickhouse/client,
 * so instanceof would miss it.
 */
export function clickhouseCode(err: unknown): string | undefined {
  if (err instanceof Error && 'code' in err && (err.name === 'ClickHouseError' || err.constructor?.name === 'ClickHouseError')) {
    return String(err.code);
  }
  if (err instanceof StoreError) return err.clickhouseCode;
  // The direct chDB session (read path) raises its own error type; the engine's message still
  // starts with its numeric code ("Code: 53. DB::Exception: ..."), which retryability and the
  // 500 log line need.
  if (err instanceof Error && (err.name === 'ChdbQueryError' || err.constructor?.name === 'ChdbQueryError')) return /^Code: (\d+)\./.exec(err.message)?.[1];
  return undefined;
}

/**
 * What a log line may say about a store error: its kind and code, not its message, because
 * ClickHouse quotes the offending input (personal data) in parse errors.
 */
export function loggableError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err };
  return { type: err.name, code: clickhouseCode(err), retryable: isRetryable(err) };
}
