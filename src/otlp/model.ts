// The OTLP logs request as the rest of src/otlp sees it, whichever encoding it came in
// (protobuf.ts, json.ts). Both decoders land here with the same values for the same record, so
// the id derived from a record's content (mapping.ts) does not depend on the encoding.
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Attributes in wire order; a later duplicate key wins when they become an object. */
export type Attributes = Array<[string, JsonValue]>;

export interface OtlpLogRecord {
  /** Nanoseconds since the epoch, decimal ('0' when unset). */
  timeUnixNano: string;
  observedTimeUnixNano: string;
  severityNumber: number;
  severityText: string;
  body: JsonValue | undefined;
  attributes: Attributes;
  eventName: string;
  /** Lowercase hex ('' when unset). */
  traceId: string;
  spanId: string;
  flags: number;
}

export interface OtlpScopeLogs {
  scope: { name: string; version: string; attributes: Attributes };
  logRecords: OtlpLogRecord[];
}

export interface OtlpResourceLogs {
  resource: Attributes;
  scopeLogs: OtlpScopeLogs[];
}

/** An int64 as a JSON number when it is exact, else as its decimal text. */
export function int64Value(v: string | number | bigint): number | string {
  const n = typeof v === 'bigint' ? v : BigInt(typeof v === 'number' ? Math.trunc(v) : v);
  return n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(n) : n.toString();
}

/** A double as JSON: NaN and the infinities have no JSON number, so they keep proto3 JSON's names. */
export function doubleValue(v: number | string): number | string {
  const n = typeof v === 'string' ? Number(v) : v;
  if (Number.isFinite(n)) return n;
  return Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
}

/** An OTLP AnyValue as either decoder produces it (protobufjs toObject, or the OTLP/JSON body). */
export interface AnyValueInput {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number | string;
  arrayValue?: { values?: AnyValueInput[] };
  kvlistValue?: { values?: KeyValueInput[] };
  /** base64 in both (protobufjs toObject with bytes: String; OTLP/JSON as proto3 JSON). */
  bytesValue?: string;
}
export interface KeyValueInput {
  key?: string;
  value?: AnyValueInput;
}

/** AnyValue → JSON; an empty AnyValue is null. Bytes stay base64. */
export function anyValue(v: AnyValueInput | undefined): JsonValue {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return int64Value(v.intValue);
  if (v.doubleValue !== undefined) return doubleValue(v.doubleValue);
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(anyValue);
  if (v.kvlistValue !== undefined) return Object.fromEntries(attributes(v.kvlistValue.values));
  if (v.bytesValue !== undefined) return v.bytesValue;
  return null;
}

export const attributes = (kvs: KeyValueInput[] | undefined): Attributes => (kvs ?? []).map((kv) => [kv.key ?? '', anyValue(kv.value)]);

export const toObject = (attrs: Attributes): Record<string, JsonValue> => Object.fromEntries(attrs);

/** Record counts before anything is decoded further: the per-request event limit applies to records. */
export function countRecords(resourceLogs: readonly OtlpResourceLogs[]): number {
  let n = 0;
  for (const r of resourceLogs) for (const s of r.scopeLogs) n += s.logRecords.length;
  return n;
}
