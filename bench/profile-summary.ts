// Where a V8 CPU profile (`--profile` → bench/out/profiles/*.cpuprofile) spent its time: self
// time by package or project file, then the top functions. Enough to write a before/after note
// without opening DevTools; the figures are self time from the sample deltas, so they add up.
//
//   node --import tsx bench/profile-summary.ts <file.cpuprofile | directory>... [--top=20]
//
// A directory is summarized file by file, biggest first. Each profile is labelled by what it ran
// (the service, an engine worker, or a loader thread: tsx compiles on a worker thread of its own,
// whose profile lands beside the main thread's).
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  label: string;
  wallMs: number;
  /** Sampled time that was not idle, in ms. */
  busyMs: number;
  byOwner: Array<{ owner: string; ms: number }>;
  topFunctions: Array<{ name: string; where: string; ms: number }>;
}

const PSEUDO = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** The package (node_modules/<pkg>), project file (src/…, bench/…), Node internal or V8 pseudo-frame a frame belongs to. */
export function ownerOf(frame: CallFrame, repoRoot: string): string {
  const name = frame.functionName;
  if (!frame.url) return PSEUDO.has(name) ? name : '(native)';
  // Node's own modules by area (node:internal/streams/readable → node:internal/streams).
  if (frame.url.startsWith('node:')) return frame.url.split('/').slice(0, 2).join('/');
  const file = frame.url.replace(/^file:\/\//, '');
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = file.slice(nm + '/node_modules/'.length).split('/');
    return `pkg ${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  return file.startsWith(repoRoot) ? path.relative(repoRoot, file) : file;
}

function labelOf(p: CpuProfile): string {
  const urls = p.nodes.map((n) => n.callFrame.url);
  if (urls.some((u) => u.endsWith('/src/server.ts'))) return 'service';
  if (urls.some((u) => u.endsWith('/bench/lib/engine-worker.ts'))) return 'engine worker';
  if (urls.some((u) => u.includes('/node_modules/esbuild/'))) return 'loader thread (tsx/esbuild)';
  return 'other';
}

export function summarize(p: CpuProfile, repoRoot: string, top = 20): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  // Self time per node: each sample's delta belongs to the node it landed on. (The first delta
  // is the gap before sampling started; V8 pairs delta i with sample i, and so do we.)
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const owners = new Map<string, number>();
  const fns = new Map<string, { name: string; where: string; ms: number }>();
  let busy = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const f = n.callFrame;
    const ms = us / 1000;
    if (f.functionName !== '(idle)') busy += ms;
    const owner = ownerOf(f, repoRoot);
    owners.set(owner, (owners.get(owner) ?? 0) + ms);
    // tsx compiles a project file onto few lines, so its line numbers say little: file only.
    const line = f.url && !f.url.endsWith('.ts') ? `:${f.lineNumber + 1}` : '';
    const where = f.url ? `${owner.replace(/^pkg /, '')}${line}` : owner;
    const key = `${f.functionName}@${where}`;
    const cur = fns.get(key) ?? { name: f.functionName || '(anonymous)', where, ms: 0 };
    cur.ms += ms;
    fns.set(key, cur);
  }
  return {
    label: labelOf(p),
    wallMs: (p.endTime - p.startTime) / 1000,
    busyMs: busy,
    byOwner: [...owners].map(([owner, ms]) => ({ owner, ms })).sort((a, b) => b.ms - a.ms),
    topFunctions: [...fns.values()].filter((f) => f.name !== '(idle)').sort((a, b) => b.ms - a.ms).slice(0, top),
  };
}

const pct = (x: number, total: number) => `${((x / total) * 100).toFixed(1).padStart(5)}%`;
const msStr = (x: number) => `${x.toFixed(0).padStart(7)} ms`;

export function render(file: string, s: ProfileSummary, top: number): string {
  const lines = [
    `== ${file}`,
    `   ${s.label}; ${(s.wallMs / 1000).toFixed(1)} s profiled, ${(s.busyMs / 1000).toFixed(1)} s busy (percentages are of busy time)`,
    '',
    '   self time by package / file:',
  ];
  for (const o of s.byOwner.filter((x) => x.owner !== '(idle)').slice(0, top)) lines.push(`   ${msStr(o.ms)} ${pct(o.ms, s.busyMs)}  ${o.owner}`);
  lines.push('', '   top functions (self time):');
  for (const f of s.topFunctions) lines.push(`   ${msStr(f.ms)} ${pct(f.ms, s.busyMs)}  ${f.name}  ${f.where}`);
  return lines.join('\n');
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '20' } } });
  const top = Number(values.top);
  if (positionals.length === 0) {
    process.stderr.write('usage: node --import tsx bench/profile-summary.ts <file.cpuprofile | directory>... [--top=20]\n');
    process.exit(2);
  }
  const files = positionals.flatMap((p) =>
    fs.statSync(p).isDirectory()
      ? fs.readdirSync(p).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(p, f)).sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)
      : [p]);
  const repoRoot = path.resolve(new URL('..', import.meta.url).pathname);
  for (const file of files) {
    const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
    process.stdout.write(`${render(file, summarize(profile, repoRoot, top), top)}\n\n`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) main();
