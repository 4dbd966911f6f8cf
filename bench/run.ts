// `npm run bench`: runs the benchmark sections in order and writes the dated table into
// BENCHMARKS.md. Everything runs on loopback, in temporary directories that are removed at the
// end (also on Ctrl-C), with a Postgres cluster of its own when Postgres is installed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext, BenchSection } from './lib/context.ts';
import { EngineWorker } from './lib/engine.ts';
import { machineInfo } from './lib/machine.ts';
import { parseOptions } from './lib/options.ts';
import { findPostgres, startPostgres, type PostgresPeer } from './lib/postgres.ts';
import { renderMarkdown, writeBenchmarksFile, writeJson, type RunReport, type SectionResult } from './lib/report.ts';
import { describeStop, ServiceProcess } from './lib/service.ts';
import { archiveSection } from './sections/archive.ts';
import { ingestSection } from './sections/ingest.ts';
import { memorySection } from './sections/memory.ts';
import { otlpSection } from './sections/otlp.ts';
import { querySection } from './sections/queries.ts';
import { singleSection } from './sections/single.ts';
import { storageSection } from './sections/storage.ts';
import { viewsSection } from './sections/views.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const argv = process.argv.slice(2);
const opts = parseOptions(argv);
const startedAt = new Date();
const loadAtStart = os.loadavg()[0]!;
const log = (m: string) => process.stderr.write(`[bench +${Math.round((Date.now() - startedAt.getTime()) / 1000)}s] ${m}\n`);

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'audithouse-bench-'));
const outDir = path.join(REPO, 'bench/out');
const profileDir = path.join(outDir, 'profiles', startedAt.toISOString().replace(/[:.]/g, '-'));
const engines = new Map<string, EngineWorker>();
let service: ServiceProcess | undefined;
/** Every service started this run (the shared one and the sections' own), for the final stop. */
const services = new Map<string, ServiceProcess>();
let postgres: PostgresPeer | undefined;

async function startService(label: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
  const svc = await ServiceProcess.start({
    dataDir: path.join(root, label),
    env,
    ...(opts.profile ? { profileDir, profileLabel: label } : {}),
  });
  services.set(label, svc);
  return svc;
}

async function stopServices(keep?: ServiceProcess): Promise<void> {
  for (const [label, svc] of services) {
    if (!svc.running || svc === keep) continue;
    log(describeStop(label, await svc.stop(), opts.profile));
  }
}

async function stopEngines(): Promise<void> {
  for (const [name, w] of engines) {
    await w.stop().catch(() => {});
    engines.delete(name);
  }
}

let cleaning: Promise<void> | undefined;
const cleanup = () =>
  (cleaning ??= (async () => {
    await stopServices().catch(() => {});
    await stopEngines();
    await postgres?.stop().catch(() => {});
    if (!opts.keep) fs.rmSync(root, { recursive: true, force: true });
    else log(`kept ${root}`);
  })());

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

const ctx: BenchContext = {
  opts,
  root,
  outDir,
  nowMs: Date.now(),
  log,
  async service() {
    // One service for §1 and §2 (its directory is §6's integrity verify input); the label names its profile.
    service ??= await startService('service');
    ctx.shared.serviceDataDir = service.dataDir;
    return service;
  },
  startService,
  async engine(name, dataDir) {
    let w = engines.get(name);
    if (!w) {
      const dir = dataDir ?? path.join(root, 'engines', name);
      fs.mkdirSync(dir, { recursive: true });
      w = await EngineWorker.start(dir, opts.profile ? { profile: { dir: profileDir, label: `engine-${name}` } } : {});
      engines.set(name, w);
    }
    return w;
  },
  async stopEngine(name) {
    await engines.get(name)?.stop();
    engines.delete(name);
  },
  postgres: undefined,
  postgresMissing: undefined,
  shared: {},
};

const SECTIONS: BenchSection[] = [ingestSection, singleSection, storageSection, memorySection, querySection, viewsSection, archiveSection, otlpSection];

async function main(): Promise<void> {
  log(`mode ${opts.mode}; sections ${[...opts.sections].join(',')}; temp ${root}`);
  const meta = await EngineWorker.start(path.join(root, 'engines', 'meta'));
  const clickhouse = await meta.call<string>('version');
  await meta.stop();

  const wantsPeer = ['1', '3', '8'].some((s) => opts.sections.has(s));
  if (!opts.postgres) ctx.postgresMissing = 'disabled with --no-postgres';
  else if (wantsPeer) {
    const bins = findPostgres();
    if (!bins) ctx.postgresMissing = 'no Postgres binaries found (initdb, pg_ctl); install Debian postgresql to compare';
    else {
      try {
        postgres = await startPostgres(bins);
        ctx.postgres = postgres;
        log(`postgres peer: ${bins.version} on ${postgres.url}`);
      } catch (err) {
        ctx.postgresMissing = `Postgres did not start: ${(err as Error).message.split('\n')[0]}`;
      }
    }
  }
  if (ctx.postgresMissing) log(`postgres peer skipped: ${ctx.postgresMissing}`);

  const results: SectionResult[] = [];
  for (const section of SECTIONS) {
    if (!section.ids.some((id) => opts.sections.has(id))) continue;
    log(`§${section.ids.join(',')} ${section.title}`);
    const t = performance.now();
    try {
      results.push(...(await section.run(ctx)).filter((r) => opts.sections.has(r.id)));
    } catch (err) {
      log(`§${section.ids.join(',')} failed: ${(err as Error).stack ?? String(err)}`);
      for (const id of section.ids) results.push({ id, title: section.title, rows: [], skipped: `failed: ${(err as Error).message.split('\n')[0]}` });
    }
    log(`§${section.ids.join(',')} done in ${Math.round((performance.now() - t) / 1000)} s`);
    await stopEngines();
    // The services serve §1–2 and §5 only (§2 stops the shared one itself, to read its engine);
    // stopping them frees their cores and memory for the rest.
    await stopServices(section === ingestSection && opts.sections.has('2') ? service : undefined);
  }

  results.sort((a, b) => Number(a.id) - Number(b.id));
  const report: RunReport = {
    mode: opts.mode,
    startedAt,
    durationS: (Date.now() - startedAt.getTime()) / 1000,
    command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
    machine: machineInfo(clickhouse, postgres?.version, loadAtStart),
    sections: results,
  };
  process.stdout.write(`\n${renderMarkdown(report)}\n`);
  const json = writeJson(outDir, report);
  log(`results: ${json}`);
  if (opts.write) {
    writeBenchmarksFile(path.join(REPO, 'BENCHMARKS.md'), report, TEMPLATE);
    log('BENCHMARKS.md updated');
  }
  if (opts.profile) log(`CPU profiles: ${profileDir}`);
}

const TEMPLATE = `# Benchmarks

Produced by \`npm run bench\` (full) and \`npm run bench -- --quick\` (smoke); see bench/.
`;

main()
  .catch((err) => {
    log(`bench failed: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
