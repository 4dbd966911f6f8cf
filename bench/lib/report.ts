// Results → a markdown table, printed and written into BENCHMARKS.md between markers for the
// run's mode (full or quick), so a quick run never overwrites the full table and the hand-written
// parts of the file stay as they are. The raw results also go to bench/out/<stamp>.json.
import fs from 'node:fs';
import path from 'node:path';
import type { MachineInfo } from './machine.ts';

export interface ResultRow {
  /** Section number as in the issue (1..8). */
  section: string;
  measure: string;
  /** audithouse's figure, formatted with its unit. */
  value: string;
  /** The comparison figure (raw client, Postgres, raw aggregates), formatted. */
  peer?: string | undefined;
  /** Ratio, formatted ("1.23×"); its meaning is in the measure or the notes. */
  ratio?: string | undefined;
  target?: string | undefined;
  met?: boolean | undefined;
}

export interface SectionResult {
  id: string;
  title: string;
  rows: ResultRow[];
  /** Set when the section did not run: "skipped: <reason>". */
  skipped?: string | undefined;
  notes?: string[];
  /** Extra markdown (breakdowns) printed under the main table. */
  details?: string | undefined;
  /** Machine-readable figures for the JSON file. */
  data?: Record<string, unknown>;
}

export interface RunReport {
  mode: 'full' | 'quick';
  startedAt: Date;
  durationS: number;
  command: string;
  machine: MachineInfo;
  sections: SectionResult[];
}

const cell = (s: string | undefined) => (s ?? '').replace(/\|/g, '\\|');

export function renderMarkdown(r: RunReport): string {
  const m = r.machine;
  const lines: string[] = [];
  const stamp = r.startedAt.toISOString().replace('T', ' ').slice(0, 16);
  lines.push(`## ${r.mode === 'full' ? 'Full run' : 'Quick run'}: ${stamp} UTC`);
  lines.push('');
  lines.push(`Command: \`${r.command}\` (took ${Math.round(r.durationS)} s).`);
  lines.push(`Machine: ${m.cpus} cores (${m.cpuModel}), ${m.memoryGiB} GiB memory, ${m.os}; Node ${m.node}; ` +
    `chDB ${m.chdb} (ClickHouse ${m.clickhouse}); Postgres peer: ${m.postgres ?? 'not run'}; ` +
    `load average ${m.load[0].toFixed(1)} at the start, ${m.load[1].toFixed(1)} at the end (other work shares the machine).`);
  lines.push('');
  lines.push('| § | Measure | audithouse | Baseline / peer | Ratio | Target | Met |');
  lines.push('|---|---|---:|---:|---:|---|:-:|');
  for (const s of r.sections) {
    if (s.skipped) {
      lines.push(`| ${s.id} | ${cell(s.title)} | ${cell(s.skipped)} | | | | |`);
      continue;
    }
    for (const row of s.rows) {
      const met = row.met === undefined ? '' : row.met ? 'yes' : '**no**';
      lines.push(`| ${row.section} | ${cell(row.measure)} | ${cell(row.value)} | ${cell(row.peer)} | ${cell(row.ratio)} | ${cell(row.target)} | ${met} |`);
    }
  }
  const notes = r.sections.flatMap((s) => (s.notes ?? []).map((n) => `- §${s.id}: ${n}`));
  if (notes.length) {
    lines.push('');
    lines.push(...notes);
  }
  for (const s of r.sections) {
    if (!s.details) continue;
    lines.push('');
    lines.push(`### §${s.id} ${s.title}: details`);
    lines.push('');
    lines.push(s.details);
  }
  return lines.join('\n');
}

const marker = (mode: string, edge: 'start' | 'end') => `<!-- bench:${mode}:${edge} -->`;

/** Replaces this mode's block in BENCHMARKS.md (creating the file or the block if needed). */
export function writeBenchmarksFile(file: string, r: RunReport, template: string): void {
  const block = `${marker(r.mode, 'start')}\n${renderMarkdown(r)}\n${marker(r.mode, 'end')}`;
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : template;
  const start = text.indexOf(marker(r.mode, 'start'));
  const end = text.indexOf(marker(r.mode, 'end'));
  if (start >= 0 && end > start) {
    text = text.slice(0, start) + block + text.slice(end + marker(r.mode, 'end').length);
  } else {
    text = `${text.trimEnd()}\n\n${block}\n`;
  }
  fs.writeFileSync(file, text);
}

export function writeJson(dir: string, r: RunReport): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${r.startedAt.toISOString().replace(/[:.]/g, '-')}-${r.mode}.json`);
  fs.writeFileSync(file, JSON.stringify(r, null, 2));
  return file;
}
