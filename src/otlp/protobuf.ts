// OTLP/HTTP protobuf: requests decoded, responses encoded with the published OTLP definitions
// (the protobufjs module that @opentelemetry/otlp-transformer generates from the
// opentelemetry-proto files), never a parser of our own.
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';
import { problem } from '../problems.ts';
import { anyValue, attributes, type AnyValueInput, type KeyValueInput, type OtlpResourceLogs } from './model.ts';

/** The static message classes we use (the module ships no typings for them). */
interface MessageClass {
  decode(body: Uint8Array): object;
  encode(message: object): { finish(): Uint8Array };
  fromObject(value: object): object;
  toObject(message: object, options: protobuf.IConversionOptions): object;
}
interface Generated {
  opentelemetry: { proto: { collector: { logs: { v1: { ExportLogsServiceRequest: MessageClass; ExportLogsServiceResponse: MessageClass } } } } };
}
const generated = createRequire(import.meta.url)('@opentelemetry/otlp-transformer/build/src/generated/root.js') as Generated;
const logsV1 = generated.opentelemetry.proto.collector.logs.v1;

/**
 * google.rpc.Status, the body OTLP/HTTP prescribes for 4xx/5xx answers. The OTLP package does not
 * ship it; its two fields (googleapis google/rpc/status.proto) are declared through protobufjs
 * (`details`, a repeated Any, is never sent and left out).
 */
const Status = new protobuf.Type('Status')
  .add(new protobuf.Field('code', 1, 'int32'))
  .add(new protobuf.Field('message', 2, 'string'));
new protobuf.Root().define('google.rpc').add(Status);

const TO_OBJECT = { longs: String, bytes: String, defaults: false, arrays: true } as const;

type PbKeyValue = KeyValueInput;
type PbAnyValue = AnyValueInput;

const hex = (b64: string | undefined) => (b64 ? Buffer.from(b64, 'base64').toString('hex') : '');

/** Decodes an ExportLogsServiceRequest; a body that is not one is a permanent 400. */
export function decodeProtobufRequest(body: Uint8Array): OtlpResourceLogs[] {
  let message;
  try {
    message = logsV1.ExportLogsServiceRequest.decode(body);
  } catch (err) {
    throw problem('invalid-protobuf', `The body is not an OTLP ExportLogsServiceRequest: ${(err as Error).message}`);
  }
  const req = logsV1.ExportLogsServiceRequest.toObject(message, TO_OBJECT) as {
    resourceLogs?: Array<{
      resource?: { attributes?: PbKeyValue[] };
      scopeLogs?: Array<{
        scope?: { name?: string; version?: string; attributes?: PbKeyValue[] };
        logRecords?: Array<{
          timeUnixNano?: string; observedTimeUnixNano?: string; severityNumber?: number; severityText?: string;
          body?: PbAnyValue; attributes?: PbKeyValue[]; eventName?: string; traceId?: string; spanId?: string; flags?: number;
        }>;
      }>;
    }>;
  };
  return (req.resourceLogs ?? []).map((r) => ({
    resource: attributes(r.resource?.attributes),
    scopeLogs: (r.scopeLogs ?? []).map((s) => ({
      scope: { name: s.scope?.name ?? '', version: s.scope?.version ?? '', attributes: attributes(s.scope?.attributes) },
      logRecords: (s.logRecords ?? []).map((l) => ({
        timeUnixNano: l.timeUnixNano ?? '0',
        observedTimeUnixNano: l.observedTimeUnixNano ?? '0',
        severityNumber: l.severityNumber ?? 0,
        severityText: l.severityText ?? '',
        body: l.body === undefined ? undefined : anyValue(l.body),
        attributes: attributes(l.attributes),
        eventName: l.eventName ?? '',
        traceId: hex(l.traceId),
        spanId: hex(l.spanId),
        flags: l.flags ?? 0,
      })),
    })),
  }));
}

/** An ExportLogsServiceResponse: empty for full success, else partialSuccess. */
export function encodeProtobufResponse(partial: { rejectedLogRecords: number; errorMessage: string } | undefined): Uint8Array {
  const R = logsV1.ExportLogsServiceResponse;
  return R.encode(R.fromObject(partial ? { partialSuccess: partial } : {})).finish();
}

export function encodeProtobufStatus(code: number, message: string): Uint8Array {
  return Status.encode(Status.fromObject({ code, message })).finish();
}
