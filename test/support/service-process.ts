// The real service as a child process (`node bin/audithouse.js serve`) on loopback, for the
// fault tests that kill it, and a load generator of concurrent clients that post with their
// own event ids and remember which ids were acknowledged.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { TEST_SECRET, testToken } from './service.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export class ServiceProcess {
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.stdout!.on('data', (d: Buffer) => this.append(d));
    child.stderr!.on('data', (d: Buffer) => this.append(d));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  private append(d: Buffer) {
    this.output += d.toString();
    if (this.output.length > 2_000_000) this.output = this.output.slice(-1_000_000); // keep the tail only
  }

  /** Starts the service and waits until /healthz answers (bounded). */
  static async start(dataDir: string, env: Record<string, string> = {}, timeoutMs = 30_000): Promise<ServiceProcess> {
    const port = await freePort();
    const base: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined && !k.startsWith('AUDIT_') && !k.startsWith('CLICKHOUSE_') && !k.startsWith('VITEST')) base[k] = v;
    }
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'audithouse.js'), 'serve'], {
      cwd: ROOT,
      env: {
        ...base,
        NODE_ENV: 'test',
        AUDIT_DATA_DIR: dataDir,
        PORT: String(port),
        HOST: '127.0.0.1',
        AUDIT_JWT_SECRET: TEST_SECRET,
        AUDIT_LOG_LEVEL: 'warn',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const svc = new ServiceProcess(child, `http://127.0.0.1:${port}`);
    const until = Date.now() + timeoutMs;
    let exited = false;
    void svc.exited.then(() => (exited = true));
    for (;;) {
      if (exited) throw new Error(`the service exited during start-up:\n${svc.output.slice(-4000)}`);
      try {
        const res = await fetch(`${svc.url}/healthz`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return svc;
      } catch {
        // not listening yet
      }
      if (Date.now() > until) {
        child.kill('SIGKILL');
        throw new Error(`the service did not start within ${timeoutMs} ms:\n${svc.output.slice(-4000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async kill9(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Sends SIGTERM (`times` in a row) and waits for the exit (bounded). */
  async terminate(times = 1, timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    for (let i = 0; i < times; i++) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  async readyz(): Promise<{ status: number; body: Record<string, any> }> {
    const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  /** Waits until /readyz says "ready": the spool is drained into the store (bounded). */
  async waitReady(timeoutMs = 20_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < until) {
      last = await this.readyz().catch((e: unknown) => String(e));
      if ((last as { body?: { status?: string } }).body?.status === 'ready') return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`not ready after ${timeoutMs} ms: ${JSON.stringify(last)}\n${this.output.slice(-4000)}`);
  }

  async metric(name: string): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    return text.split('\n').filter((l) => l.startsWith(name) && !l.startsWith('#'))
      .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  }
}

export const writeToken = () => testToken({ sub: 'loader' });

export function eventsWithIds(n: number, tag: string): Array<Record<string, unknown>> {
  return Array.from({ length: n }, (_, i) => ({ id: crypto.randomUUID(), activity_type: 'api.request', action: 'call', description: `${tag} ${i}` }));
}

/** What the clients saw: acknowledged ids, and batches whose fate they do not know or that were refused. */
export interface LoadResult {
  acked: string[];
  /** The connection died mid-request (kill) or the request was refused (429/503): retry with the same ids. */
  unsettled: Array<Array<Record<string, unknown>>>;
  statuses: Record<number, number>;
  refusalsWithoutRetryAfter: number;
}

/**
 * `clients` concurrent loops, each posting batches of `batchSize` events with fresh ids until
 * `stop()` is called or its connection fails. Each client stops at its first network error
 * (the service died); refused requests are remembered for a retry.
 */
export function startLoad(url: string, token: string, opts: { clients: number; batchSize: number; tag: string }) {
  const result: LoadResult = { acked: [], unsettled: [], statuses: {}, refusalsWithoutRetryAfter: 0 };
  let stopped = false;
  const loops = Array.from({ length: opts.clients }, async (_, c) => {
    let n = 0;
    while (!stopped) {
      const events = eventsWithIds(opts.batchSize, `${opts.tag}-c${c}-b${n++}`);
      let res: Response;
      try {
        res = await fetch(`${url}/api/v1/audit/activities`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          body: JSON.stringify(events),
          signal: AbortSignal.timeout(20_000),
        });
        await res.arrayBuffer();
      } catch {
        result.unsettled.push(events);
        return;
      }
      result.statuses[res.status] = (result.statuses[res.status] ?? 0) + 1;
      if (res.status === 202) result.acked.push(...events.map((e) => e.id as string));
      else {
        if (!res.headers.get('Retry-After')) result.refusalsWithoutRetryAfter++;
        result.unsettled.push(events);
        if (res.status === 503 || res.status === 429) await new Promise((r) => setTimeout(r, 20));
      }
    }
  });
  return {
    result,
    /** Resolves when `n` events have been acknowledged in total (bounded). */
    async ackedAtLeast(n: number, timeoutMs = 20_000): Promise<void> {
      const until = Date.now() + timeoutMs;
      while (result.acked.length < n) {
        if (Date.now() > until) throw new Error(`only ${result.acked.length} of ${n} events acknowledged in ${timeoutMs} ms: ${JSON.stringify(result.statuses)}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    async stop(): Promise<LoadResult> {
      stopped = true;
      await Promise.all(loops);
      return result;
    },
  };
}

/** Posts batches again with the same ids (a client's retry) until each is acknowledged (bounded). */
export async function retryUntilAcked(url: string, token: string, batches: Array<Array<Record<string, unknown>>>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  const queue = [...batches];
  // Eight clients retrying at once, each its own batches in turn.
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let events = queue.shift(); events; events = queue.shift()) await retryOne(events);
  }));

  async function retryOne(events: Array<Record<string, unknown>>): Promise<void> {
    for (;;) {
      const res = await fetch(`${url}/api/v1/audit/activities`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(events),
      });
      await res.arrayBuffer();
      if (res.status === 202) break;
      if (Date.now() > until) throw new Error(`retry still refused with ${res.status}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Service processes and data directories for one test file: at the end of the file, processes
 * still alive are killed (-9) and the directories removed. Call at the top of the file.
 */
export function useServiceProcesses() {
  const running: ServiceProcess[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) await p.kill9();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });
  return {
    async start(dataDir: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
      const p = await ServiceProcess.start(dataDir, env);
      running.push(p);
      return p;
    },
    tempDir(prefix: string): string {
      const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
  };
}
