// How often redaction alters an event that holds no secret: the false-positive side of the
// redactor. The bench corpus (bench/lib/corpus.ts: every field set, realistic descriptions,
// details, user agents and ids, no secrets) goes through the same validation and redaction as a
// posted event (validateEvents), and an event counts as altered when any stored text field
// differs from what was posted, or when it was refused.
//
//   node --import tsx bench/redaction-share.ts [--events 200000] [--seed 7] [--src ./src]
//
// `--src` points at another checkout's src/ (e.g. main's, for a before/after figure); it only
// needs the same normalize.ts/redact.ts interfaces. The corpus is the same for the same seed.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { generateEvents } from './lib/corpus.ts';

const { values } = parseArgs({
  options: { events: { type: 'string', default: '200000' }, seed: { type: 'string', default: '7' }, src: { type: 'string', default: path.join(import.meta.dirname, '../src') } },
});
const COUNT = Number(values.events);
const src = path.resolve(values.src!);
const { validateEvents } = (await import(pathToFileURL(path.join(src, 'ingest/normalize.ts')).href)) as typeof import('../src/ingest/normalize.ts');
const { createRedactor } = (await import(pathToFileURL(path.join(src, 'ingest/redact.ts')).href)) as typeof import('../src/ingest/redact.ts');

const redactor = createRedactor();
const now = Date.now();
const events = generateEvents(COUNT, Number(values.seed), now);
const ctx = { principal: { sub: 'bench', tenantId: 'bench', scopes: new Set(['audit:write', 'audit:admin']) }, ip: '', userAgent: '', requestId: '', now };
const FIELDS = ['action', 'description', 'resource_type', 'resource_id', 'user_id', 'ip_address', 'user_agent', 'request_id'] as const;

const t0 = performance.now();
let altered = 0;
let refused = 0;
const byField = new Map<string, number>();
const CHUNK = 1000;
for (let i = 0; i < events.length; i += CHUNK) {
  const batch = events.slice(i, i + CHUNK);
  const out = validateEvents(batch, ctx as never, redactor);
  refused += out.rejected.length;
  for (const [k, row] of out.rows.entries()) {
    const e = batch[out.indexes[k]!]!;
    const changed = FIELDS.filter((f) => row[f] !== e[f]);
    if (row.details !== JSON.stringify(e.details)) changed.push('details' as never);
    if (changed.length > 0) altered++;
    for (const f of changed) byField.set(f, (byField.get(f) ?? 0) + 1);
  }
}
const ms = performance.now() - t0;
const pct = (n: number) => `${((100 * n) / COUNT).toFixed(4)} %`;
console.log(`src: ${src}`);
console.log(`${COUNT} corpus events (seed ${values.seed}): altered ${altered} (${pct(altered)}), refused ${refused} (${pct(refused)})`);
if (byField.size > 0) console.log(`altered fields: ${[...byField].map(([f, n]) => `${f} ${n}`).join(', ')}`);
console.log(`validation + redaction: ${(ms / COUNT * 1000).toFixed(2)} µs per event`);
