// The package exports as a consumer gets them: `npm run build` (also the `prepare` script, so a
// fresh clone's `npm install` builds), then `audithouse/client` and `audithouse/hono` import
// from dist/ in plain Node and type-check in a consumer project.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  exports: Record<string, { types: string; import: string }>;
};

let consumer: string;

beforeAll(async () => {
  // Exactly what `npm run build` runs.
  expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json');
  await run(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, timeout: 120_000 });
  // A project elsewhere with audithouse "installed": node_modules/audithouse -> this repository.
  consumer = fs.mkdtempSync(path.join(os.tmpdir(), 'audithouse-consumer-'));
  fs.mkdirSync(path.join(consumer, 'node_modules'));
  fs.symlinkSync(root, path.join(consumer, 'node_modules', 'audithouse'), 'dir');
}, 150_000);
afterAll(() => {
  if (consumer) fs.rmSync(consumer, { recursive: true, force: true });
});

describe('package exports', () => {
  it('declares ./client and ./hono with types and import entries that the build produced, and builds on prepare', () => {
    expect(pkg.scripts.prepare).toBe('npm run build');
    for (const name of ['./client', './hono']) {
      const entry = pkg.exports[name]!;
      expect(entry).toEqual({ types: `./dist/sdk/${name.slice(2)}/index.d.ts`, import: `./dist/sdk/${name.slice(2)}/index.js` });
      expect(fs.existsSync(path.join(root, entry.types))).toBe(true);
      expect(fs.existsSync(path.join(root, entry.import))).toBe(true);
    }
  });

  it("imports { AuditClient } from 'audithouse/client' and { audit } from 'audithouse/hono' in plain Node", async () => {
    fs.writeFileSync(path.join(consumer, 'use.mjs'), `
      import { AuditClient, AuditHttpError, uuidv7 } from 'audithouse/client';
      import { audit } from 'audithouse/hono';
      const client = new AuditClient({ url: 'http://127.0.0.1:9', token: 't' });
      const id = client.log({ activity_type: 'user.login', action: 'login' });
      const stats = client.stats;
      await client.close({ timeoutMs: 10 });
      console.log(JSON.stringify({ client: typeof AuditClient, error: typeof AuditHttpError, audit: typeof audit(({ client })), id, v7: uuidv7()[14], buffered: stats.buffered }));
    `);
    const { stdout } = await run(process.execPath, ['use.mjs'], { cwd: consumer, timeout: 30_000 });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ client: 'function', error: 'function', audit: 'function', v7: '7', buffered: 1 });
    expect(out.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('resolves the self-reference audithouse/client from inside the repository too', async () => {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', "import { AuditClient } from 'audithouse/client'; console.log(typeof AuditClient)"], { cwd: root, timeout: 30_000 });
    expect(stdout.trim()).toBe('function');
  });

  it('type-checks in a consumer project (NodeNext, strict): real types, not any', async () => {
    fs.writeFileSync(path.join(consumer, 'use.ts'), `
      import { AuditClient, type AuditEvent, type AuditEventInput } from 'audithouse/client';
      import { audit, type AuditVariables } from 'audithouse/hono';
      const client = new AuditClient({ url: 'http://audithouse:8080', getToken: async () => 'jwt', whenFull: 'drop-oldest' });
      const event: AuditEventInput = { activity_type: 'file.uploaded', action: 'file_upload', severity: 'LOW' };
      export const id: string = client.log(event);
      export const one: Promise<AuditEvent | undefined> = client.get(id);
      // @ts-expect-error action is required
      client.log({ activity_type: 'file.uploaded' });
      // @ts-expect-error not a severity
      client.log({ activity_type: 'a.b', action: 'x', severity: 'SEVERE' });
      export const middleware = audit({ client, requests: ['/files/*'] });
      export type Vars = AuditVariables;
    `);
    fs.writeFileSync(path.join(consumer, 'tsconfig.json'), JSON.stringify({
      // skipLibCheck keeps this fast; a broken .d.ts would still show: its types would turn
      // into `any` and the @ts-expect-error lines above would fail as unused.
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: [] },
      files: ['use.ts'],
    }));
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: consumer, timeout: 120_000 }).catch((e: { stdout: string }) => e);
    expect((result as { stdout: string }).stdout).toBe('');
  });

  it('audithouse/client depends on nothing but the platform (its built files import only each other and node:crypto)', () => {
    const dir = path.join(root, 'dist', 'sdk', 'client');
    const specifiers = fs.readdirSync(dir).filter((f) => f.endsWith('.js')).flatMap((f) =>
      [...fs.readFileSync(path.join(dir, f), 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!));
    expect(specifiers.length).toBeGreaterThan(0);
    expect(specifiers.filter((s) => !s.startsWith('./') && s !== 'node:crypto')).toEqual([]);
  });
});
