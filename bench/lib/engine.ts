// An embedded engine in a child process. libchdb binds one data directory per process, and the
// bench needs several (the service's, the raw-insert baseline's, the query data set's), so every
// engine-side task runs in a worker forked from here and answers over IPC. It also keeps the
// orchestrator (load generators, Postgres client) free of the engine's threads and memory.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./engine-worker.ts', import.meta.url));

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export class EngineWorker {
  private next = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited = false;

  private constructor(readonly child: ChildProcess, private readonly profile?: { dir: string; label: string }) {
    child.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(m.error));
    });
    child.on('exit', (code, signal) => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error(`engine worker exited (${signal ?? code})`));
      this.pending.clear();
    });
  }

  /**
   * Forks a worker bound to `dataDir` (its engine files go to dataDir/clickhouse). With `profile`
   * it runs under --cpu-prof and its profile is renamed `<label>-CPU….cpuprofile` once it exits.
   */
  static async start(dataDir: string, opts: { execArgv?: string[]; profile?: { dir: string; label: string } } = {}): Promise<EngineWorker> {
    const prof = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${opts.profile.dir}`] : [];
    const child = fork(WORKER, [dataDir], {
      execArgv: ['--import', 'tsx', ...prof, ...(opts.execArgv ?? [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const w = new EngineWorker(child, opts.profile);
    await w.call('ping');
    return w;
  }

  get pid(): number {
    return this.child.pid!;
  }

  call<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    if (this.exited) return Promise.reject(new Error('engine worker has exited'));
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, op, args });
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    try {
      await this.call('close');
    } catch {
      /* exiting anyway */
    }
    // Generous when profiling: a SIGKILL before the profile is serialized loses it.
    const timer = setTimeout(() => this.child.kill('SIGKILL'), this.profile ? 120_000 : 20_000);
    await done;
    clearTimeout(timer);
    if (this.profile && fs.existsSync(this.profile.dir)) {
      // Node's name (CPU.<date>.<time>.<pid>.<thread>.<seq>) does not say which worker it was.
      for (const f of fs.readdirSync(this.profile.dir)) {
        if (f.startsWith('CPU.') && f.split('.')[3] === String(this.pid)) fs.renameSync(path.join(this.profile.dir, f), path.join(this.profile.dir, `${this.profile.label}-${f}`));
      }
    }
  }
}
