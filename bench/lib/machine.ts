// What the numbers were measured on: they mean little without it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  os: string;
  chdb: string;
  clickhouse: string;
  postgres: string | undefined;
  /** 1-minute load average at the start and the end of the run: the machine is shared. */
  load: [number, number];
}

function nproc(): number {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    return os.availableParallelism();
  }
}

function cpuModel(): string {
  try {
    const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) return line.split(':')[1]!.trim();
  } catch {
    /* not Linux */
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

/** `clickhouse` comes from the engine itself (SELECT version()), asked by the engine worker. */
export function machineInfo(clickhouse: string, postgresVersion: string | undefined, loadAtStart: number): MachineInfo {
  const chdbPkg = JSON.parse(fs.readFileSync(new URL('../../node_modules/chdb/package.json', import.meta.url), 'utf8')) as { version: string };
  return {
    cpus: nproc(),
    cpuModel: cpuModel(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    chdb: chdbPkg.version,
    clickhouse,
    postgres: postgresVersion,
    load: [loadAtStart, os.loadavg()[0]!],
  };
}
