// Reading and shaping an ingest body: one JSON object, a JSON array, or NDJSON.
// The byte limit is enforced while streaming, so a huge body is cut off, never buffered whole.
import { problem, type FieldError, type ProblemOptions } from '../problems.ts';
import { MAX_BATCH_EVENTS, MAX_EVENT_BYTES, MAX_REQUEST_BYTES } from '../event/limits.ts';

export type BodyFormat = 'json' | 'ndjson';

/** NDJSON goes by several names; shippers pick different ones (Vector and syslog-ng users often jsonlines). */
export const NDJSON_MEDIA_TYPES = ['application/x-ndjson', 'application/jsonlines', 'application/x-jsonlines'] as const;
const NDJSON_TYPES = new Set<string>([...NDJSON_MEDIA_TYPES, 'application/ndjson', 'application/jsonl']);

export function bodyFormat(contentType: string | undefined): BodyFormat {
  const mime = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (mime === 'application/json' || mime.endsWith('+json')) return 'json';
  if (NDJSON_TYPES.has(mime)) return 'ndjson';
  throw problem('unsupported-media-type',
    `Content-Type must be application/json (one event or an array) or NDJSON, one event per line (application/x-ndjson, application/jsonlines or application/x-jsonlines); got ${mime ? `"${mime}"` : 'none'}.`);
}

const tooLarge = (detail: string, opts: ProblemOptions = {}) => problem('payload-too-large', detail, opts);

/**
 * Reads a request's body as UTF-8 within `limit` bytes. With a Content-Length (checked against
 * the limit first) Node's HTTP parser never delivers more than that, so the body is read in one
 * go from the socket (the server adapter's fast path: no web streams, no Request object, which
 * were ~8% of the service's CPU on single-event posts in the bench profile). Without one
 * (chunked), it streams and stops at the limit.
 */
export async function readRequestBody(req: Request, declaredLength: string | undefined, limit = MAX_REQUEST_BYTES): Promise<string> {
  if (declaredLength !== undefined && /^\d+$/.test(declaredLength)) return decodeUtf8(await readRequestBytes(req, declaredLength, limit));
  return readBodyLimited(req.body, declaredLength, limit);
}

/** The same as raw bytes (protobuf bodies, compressed bodies). */
export async function readRequestBytes(req: Request, declaredLength: string | undefined, limit = MAX_REQUEST_BYTES): Promise<Uint8Array> {
  if (declaredLength !== undefined && /^\d+$/.test(declaredLength)) {
    if (Number(declaredLength) > limit) {
      throw tooLarge(`The request body is ${declaredLength} bytes; the limit is ${limit} bytes (10 MiB) per request.`);
    }
    const bytes = new Uint8Array(await req.arrayBuffer());
    if (bytes.byteLength > limit) throw tooLarge(`The request body exceeds the limit of ${limit} bytes (10 MiB) per request.`);
    return bytes;
  }
  return readBytesLimited(req.body, declaredLength, limit);
}

export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw problem('invalid-encoding', 'The request body is not valid UTF-8.');
  }
}

/** Reads the body as UTF-8, refusing (413) as soon as it passes `limit` bytes. */
export async function readBodyLimited(body: ReadableStream<Uint8Array> | null, declaredLength: string | undefined, limit = MAX_REQUEST_BYTES): Promise<string> {
  return decodeUtf8(await readBytesLimited(body, declaredLength, limit));
}

async function readBytesLimited(body: ReadableStream<Uint8Array> | null, declaredLength: string | undefined, limit: number): Promise<Uint8Array> {
  if (declaredLength !== undefined && Number(declaredLength) > limit) {
    throw tooLarge(`The request body is ${declaredLength} bytes; the limit is ${limit} bytes (10 MiB) per request.`);
  }
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(`The request body exceeds the limit of ${limit} bytes (10 MiB) per request.`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** Deepest nesting accepted inside one event (objects and arrays). */
export const MAX_EVENT_DEPTH = 32;

/**
 * Checks one raw event without recursion (a hostile body can nest thousands deep): nesting depth,
 * and every key and string is well-formed Unicode (a lone surrogate cannot be stored as UTF-8).
 * Returns what is wrong, or undefined.
 */
export function inspectRaw(value: unknown): { field?: string; message: string } | undefined {
  const stack: Array<{ v: unknown; depth: number; path: string }> = [{ v: value, depth: 0, path: '' }];
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!;
    if (typeof v === 'string') {
      if (!v.isWellFormed()) return { ...(path ? { field: path } : {}), message: 'is not well-formed Unicode (lone surrogate)' };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_EVENT_DEPTH) return { ...(path ? { field: path } : {}), message: `nests deeper than ${MAX_EVENT_DEPTH} levels` };
    if (Array.isArray(v)) {
      v.forEach((x, i) => stack.push({ v: x, depth: depth + 1, path: `${path}[${i}]` }));
    } else {
      for (const [k, x] of Object.entries(v)) {
        const p = path ? `${path}.${k}` : k;
        if (!k.isWellFormed()) return { ...(path ? { field: path } : {}), message: 'has a key that is not well-formed Unicode (lone surrogate)' };
        stack.push({ v: x, depth: depth + 1, path: p });
      }
    }
  }
  return undefined;
}

/** What a body holds before validation: the raw events, and those already refused on their own. */
export interface SplitBody {
  /** Raw events in body order (undefined where a line was not JSON). */
  events: unknown[];
  /** Per-event problems found while splitting, by event index. */
  problems: Map<number, { kind: 'json' | 'shape' | 'size'; error: FieldError }>;
}

/**
 * Splits a body into raw events (still unvalidated). What concerns the request as a whole
 * (not JSON at all, no events, more than 10,000) throws; what concerns one event (an NDJSON
 * line that is not JSON, nesting or Unicode problems, over 64 KiB) is reported per index, for
 * the caller to refuse either that event (partial acceptance) or the request (`parseEvents`).
 */
export function splitEvents(text: string, format: BodyFormat): SplitBody {
  const problems: SplitBody['problems'] = new Map();
  let events: unknown[];
  const sizes: number[] = [];
  if (format === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw problem('invalid-json', `The request body is not valid JSON: ${(err as Error).message}`);
    }
    if (Array.isArray(parsed)) events = parsed;
    else if (parsed !== null && typeof parsed === 'object') events = [parsed];
    else throw problem('invalid-body', 'The JSON body must be one event object or an array of event objects.');
    if (events.length > MAX_BATCH_EVENTS) {
      throw tooLarge(`The request holds ${events.length} events; the limit is ${MAX_BATCH_EVENTS} per request.`);
    }
  } else {
    events = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '') continue;
      if (events.length === MAX_BATCH_EVENTS) {
        throw tooLarge(`The request holds more than ${MAX_BATCH_EVENTS} events; that is the limit per request.`);
      }
      const index = events.length;
      try {
        events.push(JSON.parse(line));
      } catch (err) {
        events.push(undefined);
        problems.set(index, { kind: 'json', error: { index, message: `line ${i + 1}: ${(err as Error).message}` } });
      }
      sizes.push(Buffer.byteLength(line));
    }
  }
  if (events.length === 0) throw problem('empty-body', 'The request holds no events.');
  events.forEach((e, index) => {
    if (problems.has(index)) return;
    const problem = inspectRaw(e);
    if (problem) {
      problems.set(index, { kind: 'shape', error: { index, ...problem } });
      return;
    }
    // Measured only once the nesting is known to be sane (JSON.stringify recurses).
    const size = format === 'json' ? Buffer.byteLength(JSON.stringify(e) ?? '') : sizes[index]!;
    if (size > MAX_EVENT_BYTES) {
      problems.set(index, { kind: 'size', error: { index, message: `event is ${size} bytes; the limit is ${MAX_EVENT_BYTES} bytes (64 KiB)` } });
    }
  });
  return { events, problems };
}

/** Splits a body into raw events, refusing the whole request if any event is malformed or too large. */
export function parseEvents(text: string, format: BodyFormat): unknown[] {
  const { events, problems } = splitEvents(text, format);
  if (problems.size === 0) return events;
  const of = (kind: string) => [...problems.values()].filter((p) => p.kind === kind).map((p) => p.error);
  const [badJson] = of('json');
  if (badJson) {
    throw problem('invalid-json', `${badJson.message.replace(/^line (\d+): /, 'Line $1 of the NDJSON body is not valid JSON: ')}`, { errors: [badJson] });
  }
  const shape = of('shape');
  if (shape.length > 0) {
    throw problem('invalid-events', `${shape.length} of ${events.length} event(s) are invalid; nothing was stored. See errors[] for each event index and field.`, { errors: shape.slice(0, 100) });
  }
  const oversize = of('size');
  throw tooLarge(`${oversize.length} event(s) exceed the limit of 64 KiB per event; nothing was stored.`, { errors: oversize.slice(0, 100) });
}
