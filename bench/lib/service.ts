// The real service as a child process (`node bin/audithouse.js serve`), so its memory is its
// own: peak RSS is read from /proc (VmHWM), not guessed from inside a process that also runs
// the load generator. Loopback only, on a free port, with a data directory of its own.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintToken } from '../../src/auth/jwt.ts';

const BIN = fileURLToPath(new URL('../../bin/audithouse.js', import.meta.url));
export const BENCH_SECRET = 'bench-secret-0123456789-0123456789-abcdef';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface ServiceOptions {
  dataDir: string;
  env?: Record<string, string>;
  /** Extra node flags. */
  nodeArgs?: string[];
  /** Set: the service runs with --cpu-prof and its profile lands here, named `<profileLabel>-CPU…`. */
  profileDir?: string;
  /** What this service was for (`service-s1-s2`, `service-storage`), in its profile's file name. */
  profileLabel?: string;
}

/** How a stop went: the profile is written only when the process exits by itself (not on SIGKILL). */
export interface StopReport {
  ms: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** CPU profiles the process wrote (renamed to carry its label), when profiling. */
  profiles: string[];
}

/**
 * How long a stopping service gets before SIGKILL. Its own shutdown bound is 20 s by default
 * (AUDIT_SHUTDOWN_TIMEOUT_MS; it exits by itself when that passes); a profiled process then
 * still serializes its whole CPU profile at exit, which after minutes of load takes seconds more.
 * A SIGKILL in that window is what loses the profile, so profiling waits much longer.
 */
const KILL_AFTER_MS = 30_000;
const KILL_AFTER_PROFILING_MS = 120_000;

export class ServiceProcess {
  private exited: Promise<number | null>;
  private rssTimer: NodeJS.Timeout | undefined;
  private sampledPeak = 0;
  private stopping: Promise<StopReport> | undefined;

  private constructor(readonly child: ChildProcess, readonly port: number, readonly dataDir: string, private readonly o: ServiceOptions) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    // Sampling backs up VmHWM where /proc/<pid>/clear_refs cannot reset it.
    this.rssTimer = setInterval(() => {
      this.sampledPeak = Math.max(this.sampledPeak, this.rssBytes());
    }, 100);
    this.rssTimer.unref();
  }

  static async start(o: ServiceOptions): Promise<ServiceProcess> {
    const port = await freePort();
    fs.mkdirSync(o.dataDir, { recursive: true });
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? o.dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      AUDIT_DATA_DIR: o.dataDir,
      AUDIT_JWT_SECRET: BENCH_SECRET,
      // The service's defaults otherwise (INFO logs to a discarded stdout, batching 20,000 / 2 ms).
      ...o.env,
    };
    const args = [...(o.nodeArgs ?? []), ...(o.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`] : []), BIN, 'serve'];
    const errLog = path.join(o.dataDir, 'service.stderr.log');
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', fs.openSync(errLog, 'a')] });
    const svc = new ServiceProcess(child, port, o.dataDir, o);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const code = await Promise.race([svc.exited, new Promise((r) => setTimeout(() => r('wait'), 100))]);
      if (code !== 'wait') throw new Error(`service exited during start (${String(code)}): ${fs.readFileSync(errLog, 'utf8').slice(-2000)}`);
      try {
        const r = await fetch(`http://127.0.0.1:${port}/readyz`);
        if (r.ok) return svc;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error('service did not become ready within 60 s');
      }
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid!;
  }

  token(o: { tenant?: string; scope?: string; sub?: string } = {}): Promise<string> {
    return mintToken(BENCH_SECRET, { tenant: o.tenant ?? 'tenant-0001', scope: o.scope ?? 'audit:read audit:write audit:admin', sub: o.sub ?? 'bench' });
  }

  private status(field: string): number {
    try {
      const line = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
      return line ? Number(line.split(/\s+/)[1]) * 1024 : 0;
    } catch {
      return 0;
    }
  }

  rssBytes(): number {
    return this.status('VmRSS');
  }

  /** Starts a new peak-RSS window: VmHWM reset through clear_refs (Linux), sampling reset too. */
  resetPeak(): void {
    try {
      fs.writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
    } catch {
      /* not permitted: the sampled peak still works */
    }
    this.sampledPeak = this.rssBytes();
  }

  /** Peak RSS since start or the last resetPeak. */
  peakRssBytes(): number {
    return Math.max(this.status('VmHWM'), this.sampledPeak, this.rssBytes());
  }

  /** The engine directory the service's embedded ClickHouse uses (for the block-number reader). */
  get enginePath(): string {
    return path.join(path.resolve(this.dataDir), 'clickhouse');
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM (the service flushes and closes, then exits), SIGKILL only if it hangs. Idempotent. */
  stop(): Promise<StopReport> {
    return (this.stopping ??= (async () => {
      clearInterval(this.rssTimer);
      const t = performance.now();
      if (this.running) {
        this.child.kill('SIGTERM');
        const timer = setTimeout(() => this.child.kill('SIGKILL'), this.o.profileDir ? KILL_AFTER_PROFILING_MS : KILL_AFTER_MS);
        await this.exited;
        clearTimeout(timer);
      }
      return { ms: performance.now() - t, code: this.child.exitCode, signal: this.child.signalCode, profiles: this.claimProfiles() };
    })());
  }

  /**
   * Node names a profile CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: nothing says which
   * process of the run it is. The ones of this pid get the service's label in front (thread 0 is
   * the service; the other is tsx's loader thread).
   */
  private claimProfiles(): string[] {
    const dir = this.o.profileDir;
    if (!dir || !fs.existsSync(dir)) return [];
    const label = this.o.profileLabel ?? 'service';
    return fs.readdirSync(dir)
      .filter((f) => f.startsWith('CPU.') && f.endsWith('.cpuprofile') && f.split('.')[3] === String(this.pid))
      .map((f) => {
        const to = path.join(dir, `${label}-${f}`);
        fs.renameSync(path.join(dir, f), to);
        return to;
      });
  }
}

/** One line for the run's log: how the stop went and where the profile is (or why it is not). */
export function describeStop(label: string, r: StopReport, profiling: boolean): string {
  const how = r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`;
  const prof = !profiling ? '' : r.profiles.length ? `; profile ${r.profiles.find((p) => /\.0\.\d+\.cpuprofile$/.test(p)) ?? r.profiles[0]}`
    : `; NO profile written${r.signal === 'SIGKILL' ? ' (SIGKILL: it did not exit in time)' : ''}`;
  return `${label} stopped in ${(r.ms / 1000).toFixed(1)} s (${how})${prof}`;
}

/** Sum and count of a histogram series in Prometheus text (e.g. the writer's insert durations). */
export interface HistogramTotals {
  sum: number;
  count: number;
}

export function histogramTotals(text: string, name: string, labels = ''): HistogramTotals {
  const pick = (suffix: string) => {
    const re = new RegExp(`^${name}_${suffix}(\\{[^}]*\\})?\\s+([0-9.e+-]+)$`, 'gm');
    let total = 0;
    for (const m of text.matchAll(re)) if (!labels || (m[1] ?? '').includes(labels)) total += Number(m[2]);
    return total;
  };
  return { sum: pick('sum'), count: pick('count') };
}

/** What the batching writer did between two /metrics snapshots: inserts, rows per insert, store time per flush. */
export function writerActivity(before: string, after: string): { inserts: number; insertCalls: number; rowsPerInsert: number; insertMs: number; dedupeMs: number } {
  const d = (name: string, labels = '') => {
    const a = histogramTotals(after, name, labels);
    const b = histogramTotals(before, name, labels);
    return { sum: a.sum - b.sum, count: a.count - b.count };
  };
  const batch = d('audit_ingest_batch_size');
  const ins = d('audit_query_duration_seconds', 'operation="insert"');
  const dd = d('audit_query_duration_seconds', 'operation="dedupe"');
  return {
    inserts: batch.count,
    insertCalls: ins.count,
    rowsPerInsert: batch.count ? batch.sum / batch.count : 0,
    insertMs: ins.count ? (ins.sum / ins.count) * 1000 : 0,
    dedupeMs: dd.count ? (dd.sum / dd.count) * 1000 : 0,
  };
}

export async function metricsText(svc: ServiceProcess): Promise<string> {
  return (await fetch(`${svc.url}/metrics`)).text();
}

/** Sum of every series of a counter or gauge (`name` or `name{…}`); undefined when absent. */
export function metricSum(text: string, name: string): number | undefined {
  const re = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+([0-9.e+-]+)$`, 'gm');
  let total: number | undefined;
  for (const m of text.matchAll(re)) total = (total ?? 0) + Number(m[1]);
  return total;
}

/** Events stored in ClickHouse so far by this service (the writer counts each after its insert). */
export const storedEvents = (text: string) => metricSum(text, 'audit_activities_total') ?? 0;

/**
 * Waits until everything acknowledged is in ClickHouse: nothing waits in the local log or spool
 * (gauge audit_spool_events 0, or absent) and the stored counter reached `storedTarget`. A write
 * path that acknowledges from a log before storing makes the difference between the last 202 and
 * this moment; the one that acknowledges after the insert makes it ~0. Returns the ms waited.
 */
export async function waitUntilStored(svc: ServiceProcess, storedTarget: number, o: { timeoutMs?: number; pollMs?: number } = {}): Promise<number> {
  const t = performance.now();
  const deadline = t + (o.timeoutMs ?? 300_000);
  for (;;) {
    const text = await metricsText(svc);
    const spooled = metricSum(text, 'audit_spool_events') ?? 0;
    const stored = storedEvents(text);
    if (spooled === 0 && stored >= storedTarget) return performance.now() - t;
    if (performance.now() > deadline) {
      throw new Error(`not stored after ${Math.round((performance.now() - t) / 1000)} s: ${stored} of ${storedTarget} events stored, ${spooled} still in the log/spool`);
    }
    await new Promise((r) => setTimeout(r, o.pollMs ?? 20));
  }
}
