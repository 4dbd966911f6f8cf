// OTLP requests for the tests, encoded with the published definitions (the protobufjs module of
// @opentelemetry/otlp-transformer): what a Collector's otlphttp exporter puts on the wire.
import { createRequire } from 'node:module';

interface MessageClass {
  encode(m: object): { finish(): Uint8Array };
  decode(b: Uint8Array): object;
  fromObject(o: object): object;
  toObject(m: object, o?: object): Record<string, unknown>;
}
const root = createRequire(import.meta.url)('@opentelemetry/otlp-transformer/build/src/generated/root.js') as {
  opentelemetry: { proto: { collector: { logs: { v1: Record<'ExportLogsServiceRequest' | 'ExportLogsServiceResponse', MessageClass> } } } };
};
const logs = root.opentelemetry.proto.collector.logs.v1;

/** OTLP/JSON attributes from a plain object. */
export function attrs(o: Record<string, string | number | boolean>): Array<{ key: string; value: Record<string, unknown> }> {
  return Object.entries(o).map(([key, v]) => ({
    key,
    value: typeof v === 'string' ? { stringValue: v } : typeof v === 'boolean' ? { boolValue: v } : Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v },
  }));
}

/** The OTLP/JSON request → protobuf bytes (ids: JSON hex → protobuf bytes). */
export function toProtobuf(json: { resourceLogs: unknown[] }): Uint8Array {
  const copy = structuredClone(json) as { resourceLogs: Array<{ scopeLogs: Array<{ logRecords: Array<Record<string, unknown>> }> }> };
  for (const r of copy.resourceLogs) for (const s of r.scopeLogs) for (const l of s.logRecords) {
    for (const k of ['traceId', 'spanId']) if (typeof l[k] === 'string') l[k] = Buffer.from(l[k] as string, 'hex');
  }
  return logs.ExportLogsServiceRequest.encode(logs.ExportLogsServiceRequest.fromObject(copy)).finish();
}

export function decodeResponse(body: Uint8Array): { partialSuccess?: { rejectedLogRecords?: string; errorMessage?: string } } {
  return logs.ExportLogsServiceResponse.toObject(logs.ExportLogsServiceResponse.decode(body), { longs: String });
}
