// The OpenAPI document is the contract: every operation in /openapi.json is walked with inputs
// generated from the document itself (seeded: CONTRACT_SEED, default 16), against the service on
// the real embedded engine with an admin token. For every answer: no 5xx; its status and content
// type are documented for the operation; a JSON body validates against the documented schema.
// Every documented-valid request is accepted (2xx; a well-formed id of nothing may be a documented
// 404); links are followed and must lead to a 2xx; each input breaking one declared constraint
// (pattern, enum, bounds, length, type, unknown or missing field, an empty value) is a documented 4xx.
import crypto from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRealIsoDate, ISO_INSTANT_RE } from '../../src/event/patterns.ts';
import { atPointer, prng, SchemaGen, type Schema } from '../support/contract-gen.ts';
import { createTestService, type TestService } from '../support/service.ts';

const SEED = Number(process.env.CONTRACT_SEED ?? 16);
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv2020) => void;

type Parameter = { name: string; in: 'query' | 'path' | 'header'; required?: boolean; schema: Schema };
type Link = { operationId: string; parameters: Record<string, string> };
type DocResponse = { content?: Record<string, { schema?: Schema }>; links?: Record<string, Link> };
type Operation = {
  operationId: string; tags: string[]; security?: unknown[]; parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, DocResponse>;
};
type Op = { method: string; path: string; op: Operation };
type Call = { path?: Record<string, string>; query?: Record<string, string>; body?: { media: string; data: string | Uint8Array }; token?: string | null };

/** Capabilities in the order a deployment lives through them: write, read, operate, then destroy. */
const TAG_ORDER = ['ingest', 'query', 'analytics', 'ops', 'retention', 'integrity'];
/** Each valid case of these changes a lot (a retention run, an erasure): fewer of them. */
const CASES: Record<string, number> = { runRetention: 2, eraseSubject: 2 };
/**
 * 5xx this walk finds that are owned elsewhere, each skipped here (not fixed) until its fix lands;
 * delete the entry then. Keyed by operationId, parameter and value.
 */
const KNOWN_5XX: Array<{ operationId: string; param: string; when: (value: string) => boolean; why: string }> = [
  // Empty: every 5xx the walk can provoke is a failure (the archives cursor past 2^53 was one; now a 400).
];
const known = (operationId: string, param: string, value: string) => KNOWN_5XX.find((k) => k.operationId === operationId && k.param === param && k.when(value));
const LINE_DELIMITED = new Set(['application/x-ndjson', 'application/jsonlines', 'application/x-jsonlines']);

let t: TestService;
let token: string;
let doc: { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };
let ajv: Ajv2020;
let gen: SchemaGen;
const validators = new Map<string, ReturnType<Ajv2020['compile']>>();

beforeAll(async () => {
  t = await createTestService();
  token = await t.token({ tenant: 'acme', scope: 'audit:read audit:write audit:admin', sub: 'contract' });
  doc = (await (await t.app.request('/openapi.json')).json()) as typeof doc;
  ajv = new Ajv2020({ strict: false, allErrors: false });
  addFormats(ajv);
  ajv.addFormat('binary', true);
  // The components as one schema document, so the operations' #/components/... refs resolve.
  ajv.addSchema({ $id: 'doc', components: doc.components });
  gen = new SchemaGen(doc.components.schemas, prng(SEED));
});
afterAll(() => t?.close());

const operations = (): Op[] =>
  Object.entries(doc.paths)
    .flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), path, op })))
    .sort((a, b) => TAG_ORDER.indexOf(a.op.tags[0]!) - TAG_ORDER.indexOf(b.op.tags[0]!));

const byId = (id: string) => operations().find((o) => o.op.operationId === id)!;

function validatorFor(schema: Schema) {
  const key = JSON.stringify(schema);
  let v = validators.get(key);
  if (!v) {
    v = ajv.compile(JSON.parse(key.replaceAll('"#/components/', '"doc#/components/')) as object);
    validators.set(key, v);
  }
  return v;
}

/** Parameters that a link fills from an earlier answer: values the service issues (cursors, ids). */
function linkTargets(operationId: string): Set<string> {
  const names = new Set<string>();
  for (const { op } of operations()) {
    for (const r of Object.values(op.responses)) for (const l of Object.values(r.links ?? {})) if (l.operationId === operationId) for (const p of Object.keys(l.parameters)) names.add(p);
  }
  return names;
}

async function send(o: Op, call: Call): Promise<Response_> {
  let url = o.path.replace(/\{(\w+)\}/g, (_, n: string) => encodeURIComponent(call.path?.[n] ?? ''));
  const qs = new URLSearchParams(call.query ?? {}).toString();
  if (qs) url += `?${qs}`;
  const headers: Record<string, string> = {};
  if (call.token !== null) headers.Authorization = `Bearer ${call.token ?? token}`;
  if (call.body) headers['Content-Type'] = call.body.media;
  const res = await t.app.request(url, { method: o.method, headers, ...(call.body ? { body: call.body.data } : {}) });
  return { res, label: `${o.method} ${url}${call.body ? ` [${call.body.media}] ${String(typeof call.body.data === 'string' ? call.body.data : '<bytes>').slice(0, 160)}` : ''}` };
}
type Response_ = { res: Response; label: string };

/** Checks an answer against the operation's documented responses; returns the parsed JSON body, if any. */
async function check(o: Op, { res, label }: Response_, problems: string[]): Promise<unknown> {
  const text = await res.text();
  const where = `${label} → ${res.status}`;
  if (res.status >= 500) problems.push(`${where}: a 5xx: ${text.slice(0, 300)}`);
  const documented = o.op.responses[String(res.status)] ?? o.op.responses.default;
  if (!documented) {
    problems.push(`${where}: status not documented (documented: ${Object.keys(o.op.responses).join(', ')})`);
    return undefined;
  }
  const mime = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (!documented.content) {
    if (text.length > 0) problems.push(`${where}: a body where none is documented`);
    return undefined;
  }
  const media = documented.content[mime];
  if (!media) {
    problems.push(`${where}: content type "${mime}" not documented (documented: ${Object.keys(documented.content).join(', ')})`);
    return undefined;
  }
  if (!/[/+]json$/.test(mime)) {
    if (media.schema && gen.types(media.schema).join() !== 'string') problems.push(`${where}: a ${mime} body documented as non-text`);
    return text;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    problems.push(`${where}: not JSON: ${text.slice(0, 200)}`);
    return undefined;
  }
  const validate = validatorFor(media.schema ?? {});
  if (!validate(body)) problems.push(`${where}: body does not match the documented schema: ${ajv.errorsText(validate.errors)}; ${text.slice(0, 300)}`);
  return body;
}

function expectStatus(where: string, status: number, ok: (s: number) => boolean, what: string, problems: string[]): void {
  if (!ok(status)) problems.push(`${where}: expected ${what}, got ${status}`);
}

/** Valid values for the operation's parameters: required ones, plus some optional ones. */
function validParams(o: Op, mode: 'required' | 'minimum' | 'random'): Pick<Call, 'path' | 'query'> {
  const skip = linkTargets(o.op.operationId);
  const call = { path: {} as Record<string, string>, query: {} as Record<string, string> };
  for (const p of o.op.parameters ?? []) {
    if (p.in !== 'query' && p.in !== 'path') continue;
    const required = p.required || p.in === 'path';
    if (!required && (skip.has(p.name) || mode === 'required')) continue;
    const s = gen.resolve(p.schema);
    if (mode === 'minimum' && !required) {
      if (s.type !== 'integer' || s.minimum === undefined) continue;
      call.query[p.name] = String(s.minimum); // boundary: limit=1 makes a next page to follow
      continue;
    }
    if (!required && !gen.chance(0.5)) continue;
    call[p.in][p.name] = String(gen.valid(p.schema));
  }
  return call;
}

/** A valid request body for one of the operation's media types (rotating through them). */
function validBody(o: Op, i: number): Call['body'] {
  const rb = o.op.requestBody;
  if (!rb) return undefined;
  const medias = Object.keys(rb.content);
  const media = medias[i % medias.length]!;
  const schema = rb.content[media]!.schema;
  if (gen.resolve(schema).format === 'binary') return { media, data: new Uint8Array() }; // an empty protobuf message is valid
  if (LINE_DELIMITED.has(media)) {
    // One JSON value per line: the items of the operation's JSON array body.
    const json = rb.content['application/json']!.schema;
    const array = [json, ...(gen.resolve(json).anyOf ?? [])].map((s) => gen.resolve(s)).find((s) => s.type === 'array')!;
    return { media, data: (gen.valid(array) as unknown[]).map((e) => JSON.stringify(e)).join('\n') + '\n' };
  }
  return { media, data: JSON.stringify(gen.valid(schema)) };
}

/**
 * Follows every link of a recorded 2xx answer; each must lead to a 2xx. An event an admin posted
 * into another tenant (tenant_id in the body) is read back with tenant_id, which a link does not
 * carry: there the by-id read answers the documented 404 of the token's own tenant.
 */
async function follow(o: Op, status: number, body: unknown, problems: string[], sent?: Call['body']): Promise<void> {
  const otherTenant = typeof sent?.data === 'string' && sent.data.includes('"tenant_id"');
  for (const [name, link] of Object.entries(o.op.responses[String(status)]?.links ?? {})) {
    const target = byId(link.operationId);
    const call: Call = { path: {}, query: {} };
    let complete = true;
    for (const [param, expr] of Object.entries(link.parameters)) {
      const value = atPointer(body, expr.replace(/^\$response\.body#/, ''));
      if (value === undefined || value === null) complete = false;
      const p = target.op.parameters!.find((x) => x.name === param)!;
      call[p.in as 'path' | 'query']![param] = String(value);
    }
    if (!complete) continue; // e.g. next_cursor null on the last page
    const r = await send(target, call);
    expectStatus(`link ${name}: ${r.label}`, r.res.status, (s) => (s >= 200 && s < 300) || (otherTenant && s === 404), '2xx', problems);
    await check(target, r, problems);
  }
}

describe('every operation of /openapi.json, with inputs generated from it', () => {
  it('walks operations in a known order, covering all of them', () => {
    const ids = operations().map((o) => o.op.operationId);
    expect(ids.length).toBe(16);
    for (const o of operations()) expect(TAG_ORDER, o.op.operationId).toContain(o.op.tags[0]);
  });

  // One test per operation, in TAG_ORDER (vitest runs them in declaration order).
  const names = [
    'postActivities', 'postOtlpLogs', 'listActivities', 'listRecentActivities', 'getActivity', 'exportActivities', 'getSummary',
    'getLiveness', 'getReadiness', 'getMetrics', 'getOpenApiDocument', 'getApiReference', 'runRetention', 'listArchives',
    'verifyIntegrity', 'eraseSubject',
  ];
  it('names every documented operation in this list', () => {
    expect(operations().map((o) => o.op.operationId).sort()).toEqual([...names].sort());
  });

  for (const name of names) {
    it(`${name}: valid inputs are accepted, invalid ones are documented 4xx, every answer is as documented`, async () => {
      const o = byId(name);
      const problems: string[] = [];
      const targets = linkTargets(name);

      // Valid requests (a required link-target parameter, e.g. the id of GET by id, may name nothing: 404).
      const absentOk = [...targets].some((n) => o.op.parameters?.find((p) => p.name === n)?.in === 'path');
      const n = CASES[name] ?? 6;
      for (let i = 0; i < n; i++) {
        const call: Call = { ...validParams(o, i === 0 ? 'required' : i === 1 ? 'minimum' : 'random'), body: validBody(o, i) };
        const r = await send(o, call);
        expectStatus(r.label, r.res.status, (s) => (s >= 200 && s < 300) || (absentOk && s === 404), absentOk ? '2xx or 404' : '2xx', problems);
        const body = await check(o, r, problems);
        if (r.res.status < 300) await follow(o, r.res.status, body, problems, call.body);
      }

      // Well-formed values of parameters the service issues (cursors), not issued by it: no 5xx.
      for (const p of o.op.parameters ?? []) {
        if (!targets.has(p.name) || p.in !== 'query') continue;
        for (let i = 0; i < 3; i++) {
          const value = String(gen.valid(p.schema));
          if (known(name, p.name, value)) continue;
          const r = await send(o, { ...validParams(o, 'required'), query: { [p.name]: value } });
          await check(o, r, problems);
        }
      }

      // One broken parameter at a time: a documented 4xx (400 for a bad query or path value).
      for (const p of o.op.parameters ?? []) {
        if (p.in !== 'query' && p.in !== 'path') continue;
        for (const bad of gen.invalidScalars(p.schema)) {
          const call = { ...validParams(o, 'required'), body: validBody(o, 0) };
          call[p.in] = { ...call[p.in], [p.name]: bad.value };
          const r = await send(o, call);
          expectStatus(`${r.label} (${p.name}: ${bad.why})`, r.res.status, (s) => s >= 400 && s < 500, '4xx', problems);
          await check(o, r, problems);
        }
      }
      // An unknown parameter: whatever the answer, documented.
      await check(o, await send(o, { ...validParams(o, 'required'), query: { no_such_parameter: '1' }, body: validBody(o, 0) }), problems);

      // One broken constraint in the body at a time (a sample of them): a documented 4xx.
      if (o.op.requestBody?.content['application/json']) {
        const schema = o.op.requestBody.content['application/json'].schema;
        const mutations = gen.mutations(schema, gen.valid(schema, 0.8));
        for (let i = 0; i < Math.min(20, mutations.length); i++) {
          const m = mutations.splice(gen.int(0, mutations.length - 1), 1)[0]!;
          const r = await send(o, { ...validParams(o, 'required'), body: { media: 'application/json', data: JSON.stringify(m.value) } });
          expectStatus(`${r.label} (${m.why})`, r.res.status, (s) => s >= 400 && s < 500, '4xx', problems);
          await check(o, r, problems);
        }
        for (const data of ['{', '', 'null', '[]']) {
          const r = await send(o, { ...validParams(o, 'required'), body: { media: 'application/json', data } });
          if (name !== 'postOtlpLogs' || data !== '') expectStatus(r.label, r.res.status, (s) => s >= 400 && s < 500, '4xx', problems);
          await check(o, r, problems);
        }
        const r = await send(o, { ...validParams(o, 'required'), body: { media: 'text/plain', data: 'hello' } });
        expectStatus(r.label, r.res.status, (s) => s >= 400 && s < 500, '4xx', problems);
        await check(o, r, problems);
      }
      if (o.op.requestBody?.content['application/x-protobuf']) {
        const r = await send(o, { body: { media: 'application/x-protobuf', data: new Uint8Array(crypto.createHash('sha256').update(String(SEED)).digest()) } });
        expectStatus(r.label, r.res.status, (s) => s >= 400 && s < 500, '4xx', problems);
        await check(o, r, problems);
      }

      // Without a token, where one is required: a documented 401.
      if ((o.op.security ?? []).length > 0) {
        const r = await send(o, { ...validParams(o, 'required'), body: validBody(o, 0), token: null });
        expectStatus(r.label, r.res.status, (s) => s === 401, '401', problems);
        await check(o, r, problems);
      }

      expect(problems).toEqual([]);
    });
  }
});

describe('the since/until pattern the document declares', () => {
  it('is the set the service accepted before it was a pattern (a real calendar date, parseable), less impossible zone offsets', () => {
    const old = (s: string) =>
      /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(s) && isRealIsoDate(s) &&
      !Number.isNaN(Date.parse(/[T ]/.test(s) && !/(Z|[+-]\d{2}:?\d{2})$/.test(s) ? `${s}Z` : s));
    const g = new SchemaGen({}, prng(SEED));
    const d = (k: number) => Array.from({ length: k }, () => String(g.int(0, 9))).join('');
    const diffs: string[] = [];
    // Date.parse took an offset such as +96:13 after a space separator; no zone has one.
    const impossibleZone = (s: string) => /[+-](?:2[4-9]|[3-9]\d):?\d\d$|[+-]\d\d:?[6-9]\d$/.test(s);
    const differs = (s: string) => ISO_INSTANT_RE.test(s) !== (old(s) && !impossibleZone(s));
    for (const s of ['2024-02-29', '2023-02-29', '1900-02-29', '2000-02-29', '0032-02-29', '0400-02-29', '0099-12-31', '0100-01-01', '2026-01-01T24:00', '2026-01-01 23:59:59.123456789+2359']) {
      if (differs(s)) diffs.push(s);
    }
    for (let i = 0; i < 20_000; i++) {
      const time = g.chance(0.5) ? '' : `${g.pick(['T', ' '])}${d(2)}:${d(2)}${g.pick(['', `:${d(2)}`, `:${d(2)}.${d(g.int(1, 10))}`])}${g.pick(['', 'Z', `${g.pick(['+', '-'])}${d(2)}${g.pick([':', ''])}${d(2)}`])}`;
      const s = `${g.pick([d(4), `20${d(2)}`, `0${d(3)}`, '2000', '1900', '2100'])}-${g.pick([d(2), `0${d(1)}`, `1${g.int(0, 2)}`])}-${g.pick([d(2), `2${d(1)}`, `3${g.int(0, 1)}`])}${time}`;
      if (differs(s)) diffs.push(s);
    }
    expect(diffs).toEqual([]);
    expect(ISO_INSTANT_RE.test('2026-01-01 00:00+96:13')).toBe(false);
  });
});
