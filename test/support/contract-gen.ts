// A small seeded generator over the JSON Schemas of an OpenAPI 3.1 document, for the contract test:
// values valid for a schema, and single-point mutations that break one declared constraint
// (pattern, enum, type, length, bounds, an unknown or missing property). Deterministic per seed.
import { createRequire } from 'node:module';

interface RandExpInstance { max: number; randInt: (a: number, b: number) => number; gen(): string }
// CommonJS (module.exports = RandExp) whose types claim an ES default export: required directly.
const RandExp = createRequire(import.meta.url)('randexp') as new (re: RegExp) => RandExpInstance;

export type Schema = {
  $ref?: string; type?: string | string[]; enum?: unknown[]; const?: unknown; anyOf?: Schema[]; oneOf?: Schema[]; allOf?: Schema[];
  pattern?: string; format?: string; minLength?: number; maxLength?: number; minimum?: number; maximum?: number;
  exclusiveMinimum?: number; exclusiveMaximum?: number; default?: unknown;
  items?: Schema; minItems?: number; maxItems?: number;
  properties?: Record<string, Schema>; required?: string[]; additionalProperties?: boolean | Schema;
};

/** The bench corpus's seeded PRNG (mulberry32), so there is one copy of it. */
export { prng } from '../../bench/lib/corpus.ts';

// Free text from a plain charset: what makes a value valid is its schema, not luck with Unicode.
const CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-';

export class SchemaGen {
  constructor(private readonly components: Record<string, Schema>, private readonly rnd: () => number) {}

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)]!;
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }

  resolve(s: Schema): Schema {
    let out = s;
    for (let i = 0; out.$ref && i < 10; i++) out = this.components[out.$ref.replace('#/components/schemas/', '')]!;
    return out;
  }

  types(s: Schema): string[] {
    const t = this.resolve(s).type;
    return t === undefined ? [] : Array.isArray(t) ? t : [t];
  }

  fromPattern(pattern: string, min = 0, max = Infinity): string {
    const r = new RandExp(new RegExp(pattern));
    r.max = 6;
    r.randInt = (a: number, b: number) => this.int(a, b);
    for (let i = 0; i < 50; i++) {
      const v = r.gen();
      if (v.length >= min && v.length <= max) return v;
    }
    throw new Error(`no string of ${min}..${max} characters for /${pattern}/`);
  }

  /** A past instant (the service refuses events more than 5 minutes ahead), RFC 3339, UTC. */
  dateTime(): string {
    return new Date(this.int(0, Date.now() - 60_000)).toISOString();
  }

  text(min: number, max: number): string {
    const n = this.int(Math.max(min, 1), Math.max(Math.min(max, 24), min, 1));
    return Array.from({ length: n }, () => this.pick([...CHARS])).join('');
  }

  /** A value valid for the schema; optional properties present with probability `optional`. */
  valid(schema: Schema, optional = 0.5, depth = 0): unknown {
    const s = this.resolve(schema);
    if (s.const !== undefined) return s.const;
    if (s.enum) return this.pick(s.enum);
    if (s.anyOf || s.oneOf) return this.valid(this.pick((s.anyOf ?? s.oneOf)!), optional, depth);
    const types = this.types(s).filter((t) => t !== 'null');
    const type = types.length > 0 ? this.pick(types) : s.properties ? 'object' : 'string';
    switch (type) {
      case 'string':
        if (s.format === 'date-time') return this.dateTime();
        if (s.pattern) return this.fromPattern(s.pattern, s.minLength ?? 0, s.maxLength ?? Infinity);
        return this.text(s.minLength ?? 1, s.maxLength ?? 24);
      case 'integer': {
        const lo = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : 0);
        const hi = s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : lo + 1000);
        return this.int(lo, Math.min(hi, lo + 10_000_000));
      }
      case 'number':
        return Math.round(this.rnd() * 1e6) / 100;
      case 'boolean':
        return this.chance(0.5);
      case 'array': {
        const n = depth > 3 ? (s.minItems ?? 0) : this.int(s.minItems ?? 0, Math.min(s.maxItems ?? 3, 3));
        return Array.from({ length: n }, () => this.valid(s.items ?? {}, optional, depth + 1));
      }
      case 'object': {
        const out: Record<string, unknown> = {};
        for (const [k, p] of Object.entries(s.properties ?? {})) {
          if ((s.required ?? []).includes(k) || (depth < 4 && this.chance(optional))) out[k] = this.valid(p, optional, depth + 1);
        }
        if (!s.properties && s.additionalProperties !== false && depth < 4) {
          for (let i = this.int(0, 2); i > 0; i--) out[this.text(1, 10)] = this.chance(0.5) ? this.text(0, 12) : this.int(0, 1000);
        }
        return out;
      }
      default:
        return this.text(1, 12);
    }
  }

  /** Values that break one constraint the schema declares (for a scalar in a query or path). */
  invalidScalars(schema: Schema): Array<{ value: string; why: string }> {
    const s = this.resolve(schema);
    const out: Array<{ value: string; why: string }> = [];
    const types = this.types(s);
    if (s.enum) out.push({ value: 'not-one-of-them', why: 'enum' }, { value: '', why: 'empty' });
    else if (types.includes('integer')) {
      out.push({ value: 'x1', why: 'not an integer' }, { value: '1.5', why: 'fraction' }, { value: '', why: 'empty' });
      if (s.minimum !== undefined) out.push({ value: String(s.minimum - 1), why: 'below minimum' });
      if (s.maximum !== undefined) out.push({ value: String(s.maximum + 1), why: 'above maximum' });
      out.push({ value: '99999999999999999999999', why: 'huge' });
    } else if (types.includes('string')) {
      out.push({ value: '', why: 'empty' });
      if (s.pattern) {
        for (const v of ['!', ' ', 'x y', `${this.fromPattern(s.pattern, s.minLength ?? 0, s.maxLength ?? Infinity)}\u0007`]) {
          if (!new RegExp(s.pattern).test(v)) out.push({ value: v, why: `outside /${s.pattern.slice(0, 40)}/` });
        }
      }
      if (s.maxLength !== undefined) out.push({ value: 'a'.repeat(s.maxLength + 1), why: 'too long' });
    }
    // An empty value is refused everywhere; keep the cases the schema really rules out.
    return out.filter((c) => c.why !== 'empty' || s.enum || types.includes('integer') || (s.minLength ?? 0) >= 1 || (s.pattern !== undefined && !new RegExp(s.pattern).test('')));
  }

  /**
   * Single-point mutations of a valid JSON value: each returns a copy with one constraint broken
   * somewhere along the schema (depth-first; arrays through their first item).
   */
  mutations(schema: Schema, value: unknown, depth = 0): Array<{ value: unknown; why: string }> {
    const s = this.resolve(schema);
    const out: Array<{ value: unknown; why: string }> = [];
    if (s.anyOf || s.oneOf) {
      // Only unambiguous: mutate within the branch the value belongs to, if exactly one is an object/array.
      const branch = (s.anyOf ?? s.oneOf)!.find((b) => (Array.isArray(value) ? this.types(b).includes('array') : this.types(b).includes('object') || this.resolve(b).properties));
      if (branch) for (const m of this.mutations(branch, value, depth)) out.push(m);
      return out;
    }
    const types = this.types(s);
    if (s.enum && typeof value === 'string') out.push({ value: `${value}-not-in-enum`, why: 'enum' });
    if (types.includes('string') && typeof value === 'string' && !s.enum) {
      if (!types.includes('number') && !types.includes('integer')) out.push({ value: 12345, why: 'not a string' });
      if (s.pattern) {
        const bad = `${value}\u0007!`;
        if (!new RegExp(s.pattern).test(bad)) out.push({ value: bad, why: `outside /${s.pattern.slice(0, 40)}/` });
      }
      if (s.maxLength !== undefined && s.maxLength < 20_000) out.push({ value: 'a'.repeat(s.maxLength + 1), why: 'too long' });
      if ((s.minLength ?? 0) >= 1) out.push({ value: '', why: 'empty' });
    }
    if (types.includes('integer') && typeof value === 'number') out.push({ value: 1.5, why: 'fraction' }, { value: 'seven', why: 'not an integer' });
    if (types.includes('array') && Array.isArray(value)) {
      out.push({ value: { not: 'an array' }, why: 'not an array' });
      if (s.minItems !== undefined && s.minItems > 0) out.push({ value: [], why: 'fewer than minItems' });
      if (value.length > 0 && depth < 6) {
        for (const m of this.mutations(s.items ?? {}, value[0], depth + 1)) out.push({ value: [m.value, ...value.slice(1)], why: `[0]: ${m.why}` });
      }
    }
    if ((types.includes('object') || s.properties) && value && typeof value === 'object' && !Array.isArray(value)) {
      const obj = value as Record<string, unknown>;
      out.push({ value: 'not an object', why: 'not an object' });
      if (s.additionalProperties === false) out.push({ value: { ...obj, no_such_field: 1 }, why: 'unknown property' });
      for (const k of s.required ?? []) {
        const { [k]: _drop, ...rest } = obj;
        out.push({ value: rest, why: `missing ${k}` });
      }
      if (depth < 6) {
        for (const [k, p] of Object.entries(s.properties ?? {})) {
          if (!(k in obj)) continue;
          for (const m of this.mutations(p, obj[k], depth + 1)) out.push({ value: { ...obj, [k]: m.value }, why: `${k}: ${m.why}` });
        }
      }
    }
    return out;
  }
}

/** The value at a JSON Pointer (RFC 6901) of a body, for `$response.body#/...` link expressions. */
export function atPointer(body: unknown, pointer: string): unknown {
  let v = body;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}
