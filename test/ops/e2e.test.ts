// The quickstart as a user runs it: the real CLI in a child process, on a fresh data directory.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { bodyOf } from '../support/api.ts';
import { freePort } from '../support/service-process.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/audithouse.js');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'audithouse-e2e-'));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Env for the child: only what a user would set (no JWT settings: the dev secret path). */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, AUDIT_DATA_DIR: dataDir, AUDIT_LOG_LEVEL: 'warn', ...extra };
  return env;
}

async function start(port: number): Promise<{ child: ChildProcess; stdout: () => string }> {
  const child = spawn(process.execPath, [BIN, 'serve'], { env: childEnv({ PORT: String(port), HOST: '127.0.0.1' }), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited early (${child.exitCode}):\n${out}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`service not ready in 30 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, stdout: () => out };
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

describe('quickstart (real CLI, child process)', () => {
  let port: number;
  let token: string;
  let id: string;

  it('first start creates a dev secret and prints an admin token and a curl example that work', async () => {
    port = await freePort();
    const { child, stdout } = await start(port);
    // The banner is printed around readiness; wait for it rather than for 300 ms.
    await vi.waitFor(() => expect(stdout()).toMatch(/export TOKEN=\S+/), { timeout: 15_000, interval: 50 });
    const out = stdout();
    expect(out).toContain('curl');
    token = /export TOKEN=(\S+)/.exec(out)![1]!;
    expect(fs.statSync(path.join(dataDir, 'dev-jwt-secret')).mode & 0o777).toBe(0o600);

    const post = await fetch(`http://127.0.0.1:${port}/api/v1/audit/activities`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'User-Agent': 'e2e/1' },
      body: JSON.stringify({ activity_type: 'user.login', action: 'login', description: 'first event' }),
    });
    expect(post.status).toBe(202);
    id = (await bodyOf(post, 'post', '/api/v1/audit/activities')).ids[0]!;
    const got = await bodyOf(await fetch(`http://127.0.0.1:${port}/api/v1/audit/activities/${id}`, { headers: { Authorization: `Bearer ${token}` } }), 'get', `/api/v1/audit/activities/${id}`);
    expect(got).toMatchObject({ id, ip_address: '127.0.0.1', user_agent: 'e2e/1', tenant_id: 'default' });
    expect(await stop(child)).toBe(0);
  });

  it('keeps data across a restart, and tokens minted by the CLI work', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'token', '--tenant', 'default', '--scope', 'audit:read', '--sub', 'auditor'], { env: childEnv() });
    const readToken = stdout.trim();
    expect(readToken.split('.')).toHaveLength(3);
    const { child } = await start(port);
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/audit/activities`, { headers: { Authorization: `Bearer ${readToken}` } });
    const page = await bodyOf(res, 'get', '/api/v1/audit/activities');
    expect(page.data.map((e) => e.id)).toContain(id);
    // read-only token cannot post
    const denied = await fetch(`http://127.0.0.1:${port}/api/v1/audit/activities`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${readToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ activity_type: 'user.login', action: 'login' }),
    });
    expect(denied.status).toBe(403);
    expect(await stop(child)).toBe(0);
  });

  it('`migrate` is idempotent and bad configuration stops start-up naming the variable', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'migrate'], { env: childEnv() });
    expect(stdout).toMatch(/applied 0 migration\(s\)/);
    const bad = await run(process.execPath, [BIN, 'serve'], { env: childEnv({ PORT: 'eighty' }) }).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(78);
    expect((bad as { stderr: string }).stderr).toContain('PORT');
    const unknown = await run(process.execPath, [BIN, 'frobnicate'], { env: childEnv() }).catch((e: { code: number; stderr: string }) => e);
    expect((unknown as { code: number }).code).toBe(2);
  });
});
