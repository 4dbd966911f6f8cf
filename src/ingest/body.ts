// Reading and shaping an ingest body: one JSON object, a JSON array, or NDJSON.
// The byte limit is enforced while streaming, so a huge body is cut off, never buffered whole.
import { ApiError, type FieldError } from '../errors.ts';
import { MAX_BATCH_EVENTS, MAX_EVENT_BYTES, MAX_REQUEST_BYTES } from './event.ts';

export type BodyFormat = 'json' | 'ndjson';

export function bodyFormat(contentType: string | undefined): BodyFormat {
  const mime = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (mime === 'application/json' || mime.endsWith('+json')) return 'json';
  if (mime === 'application/x-ndjson' || mime === 'application/ndjson' || mime === 'application/jsonl' || mime === 'application/x-jsonlines') return 'ndjson';
  throw new ApiError(415, 'unsupported-media-type',
    `Content-Type must be application/json (one event or an array) or application/x-ndjson (one event per line); got ${mime ? `"${mime}"` : 'none'}.`);
}

/** Refuses (422) a request holding any event that fails inspectRaw, naming each index. */
function checkRaw(events: unknown[]): void {
  const errors: FieldError[] = [];
  events.forEach((e, index) => {
    const problem = inspectRaw(e);
    if (problem) errors.push({ index, ...problem });
  });
  if (errors.length > 0) {
    throw new ApiError(422, 'invalid-events', `${errors.length} of ${events.length} event(s) are invalid; nothing was stored. See errors[] for each event index and field.`, { errors: errors.slice(0, 100) });
  }
}

const tooLarge = (detail: string, extra: Record<string, unknown> = {}) =>
  new ApiError(413, 'payload-too-large', detail, extra);

/** Reads the body as UTF-8, refusing (413) as soon as it passes `limit` bytes. */
export async function readBodyLimited(body: ReadableStream<Uint8Array> | null, declaredLength: string | undefined, limit = MAX_REQUEST_BYTES): Promise<string> {
  if (declaredLength !== undefined && Number(declaredLength) > limit) {
    throw tooLarge(`The request body is ${declaredLength} bytes; the limit is ${limit} bytes (10 MiB) per request.`);
  }
  if (!body) return '';
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
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new ApiError(400, 'invalid-encoding', 'The request body is not valid UTF-8.');
  }
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

/** Splits a body into raw events (still unvalidated), checking the count and per-event size limits. */
export function parseEvents(text: string, format: BodyFormat): unknown[] {
  let events: unknown[];
  const sizes: number[] = [];
  if (format === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ApiError(400, 'invalid-json', `The request body is not valid JSON: ${(err as Error).message}`);
    }
    if (Array.isArray(parsed)) events = parsed;
    else if (parsed !== null && typeof parsed === 'object') events = [parsed];
    else throw new ApiError(422, 'invalid-body', 'The JSON body must be one event object or an array of event objects.');
    if (events.length > MAX_BATCH_EVENTS) {
      throw tooLarge(`The request holds ${events.length} events; the limit is ${MAX_BATCH_EVENTS} per request.`);
    }
    checkRaw(events);
    for (const e of events) sizes.push(Buffer.byteLength(JSON.stringify(e) ?? ''));
  } else {
    events = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '') continue;
      if (events.length === MAX_BATCH_EVENTS) {
        throw tooLarge(`The request holds more than ${MAX_BATCH_EVENTS} events; that is the limit per request.`);
      }
      try {
        events.push(JSON.parse(line));
      } catch (err) {
        throw new ApiError(400, 'invalid-json', `Line ${i + 1} of the NDJSON body is not valid JSON: ${(err as Error).message}`, {
          errors: [{ index: events.length, message: `line ${i + 1}: ${(err as Error).message}` }],
        });
      }
      sizes.push(Buffer.byteLength(line));
    }
  }
  if (events.length === 0) throw new ApiError(422, 'empty-body', 'The request holds no events.');
  if (format === 'ndjson') checkRaw(events);
  const oversize: FieldError[] = [];
  sizes.forEach((s, index) => {
    if (s > MAX_EVENT_BYTES) oversize.push({ index, message: `event is ${s} bytes; the limit is ${MAX_EVENT_BYTES} bytes (64 KiB)` });
  });
  if (oversize.length > 0) {
    throw tooLarge(`${oversize.length} event(s) exceed the limit of 64 KiB per event; nothing was stored.`, { errors: oversize.slice(0, 100) });
  }
  return events;
}
