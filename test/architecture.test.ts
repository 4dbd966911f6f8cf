// The layers of src/, each importing only from the layers below it:
//
//   event/         the event model: types, columns, severities, patterns, limits, ids.
//                  Imports nothing of the project (libraries only).
//   store/         ClickHouse access, one module per table, rows parsed at the boundary.
//                  Imports event/ and a few named shared files (listed below, with why).
//   capabilities   ingest/, query/, analytics/, archive/, integrity/, retention/, sinks/,
//                  spool/, otlp/, auth/, health/, docs/, client/, ...: import event/, store/,
//                  the shared top-level files and each other; never the composition.
//   composition    app.ts, server.ts, services.ts, index.ts, main.ts: build the service
//                  from the capabilities.
//
// Nothing in src/ imports from test/, bench/ or examples/.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const SRC = path.join(ROOT, 'src');

/** What store/ may import besides event/ and itself, and why. */
const STORE_MAY_IMPORT: Record<string, string> = {
  'src/config.ts': 'the connection settings (Config) the Store is built from',
  'src/metrics.ts': 'every query and insert is timed into the store metrics',
  'src/logger.ts': 'migrations log what they apply',
  'src/cluster/render.ts': 'statements are rewritten for a cluster (ON CLUSTER, Distributed) before they run',
};

const COMPOSITION = ['src/app.ts', 'src/server.ts', 'src/services.ts', 'src/index.ts', 'src/main.ts'];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

// Static imports and re-exports (type-only ones too), side-effect imports and dynamic imports.
const SPECIFIER = /\b(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|\bimport\s+['"]([^'"]+)['"]/g;

interface Import {
  /** The importing file, relative to the repository (src/...). */
  file: string;
  specifier: string;
  /** The imported file relative to the repository, for project imports; undefined for packages. */
  target: string | undefined;
}

function importsOf(abs: string): Import[] {
  const text = fs.readFileSync(abs, 'utf8');
  const file = path.relative(ROOT, abs);
  return [...text.matchAll(SPECIFIER)].map((m) => {
    const specifier = (m[1] ?? m[2] ?? m[3])!;
    const local = specifier.startsWith('.');
    return { file, specifier, target: local ? path.relative(ROOT, path.resolve(path.dirname(abs), specifier)) : undefined };
  });
}

const ALL = sourceFiles(SRC).flatMap(importsOf);
const under = (p: string | undefined, dir: string) => p !== undefined && p.startsWith(`${dir}/`);
const show = (bad: Import[]) => bad.map((i) => `${i.file} imports '${i.specifier}'`);

describe('the dependency rule: event → store → capabilities → composition', () => {
  it('reads the imports of every source file', () => {
    expect(ALL.length).toBeGreaterThan(500);
    expect(ALL.some((i) => i.file === 'src/store/activities.ts' && i.target === 'src/event/model.ts')).toBe(true);
  });

  it('src/event imports nothing of the project but itself', () => {
    expect(show(ALL.filter((i) => under(i.file, 'src/event') && i.target !== undefined && !under(i.target, 'src/event')))).toEqual([]);
  });

  it('src/store imports only src/event, itself and the shared files it names', () => {
    const allowed = (t: string) => under(t, 'src/event') || under(t, 'src/store') || t in STORE_MAY_IMPORT;
    expect(show(ALL.filter((i) => under(i.file, 'src/store') && i.target !== undefined && !allowed(i.target)))).toEqual([]);
  });

  it('no capability folder imports the composition (app, server, services, index, main)', () => {
    const capability = (f: string) => path.dirname(f) !== 'src';
    expect(show(ALL.filter((i) => capability(i.file) && i.target !== undefined && COMPOSITION.includes(i.target)))).toEqual([]);
  });

  it('nothing in src imports from test/, bench/ or examples/', () => {
    const outside = (t: string) => ['test', 'bench', 'examples'].some((d) => under(t, d));
    expect(show(ALL.filter((i) => i.target !== undefined && outside(i.target)))).toEqual([]);
  });

  it('only src/store holds statements on audit_activities (others call its functions)', () => {
    // The table through its constant (any alias), or by name after a SQL keyword.
    const STATEMENT = /\.table\(\s*(?:ACTIVITIES_TABLE|TABLE)\s*\)|\b(?:FROM|INTO|JOIN|TABLE|UPDATE)\s+`?(?:\w+\.)?audit_activities\b/g;
    const offenders = sourceFiles(SRC)
      .filter((f) => !under(path.relative(ROOT, f), 'src/store'))
      .flatMap((f) => [...fs.readFileSync(f, 'utf8').matchAll(STATEMENT)].map((m) => `${path.relative(ROOT, f)}: ${m[0]}`));
    expect(offenders).toEqual([]);
    // The check sees the statements it is about: store/ has them.
    const inStore = sourceFiles(path.join(SRC, 'store')).filter((f) => new RegExp(STATEMENT.source).test(fs.readFileSync(f, 'utf8')));
    expect(inStore.length).toBeGreaterThan(3);
  });

  it('each shared file store/ may import is still imported by it (a stale exception is removed)', () => {
    const used = new Set(ALL.filter((i) => under(i.file, 'src/store')).map((i) => i.target));
    expect(Object.keys(STORE_MAY_IMPORT).filter((t) => !used.has(t))).toEqual([]);
  });
});
