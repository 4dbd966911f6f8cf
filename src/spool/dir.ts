// The spool directory's small files: the owner lock, the saved read position, and the
// directory fsync that makes a new segment's name as durable as its contents.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger.ts';
import { processAlive } from '../process-alive.ts';
import { SpoolLockedError } from './errors.ts';

export interface Position {
  seq: number;
  offset: number;
}

const openDirs = new Set<string>();

/** One process per spool: two appenders on one segment would interleave frames. */
export async function lockDir(dir: string): Promise<void> {
  if (openDirs.has(dir)) throw new SpoolLockedError(`the spool ${dir} is already open in this process`);
  const file = path.join(dir, 'LOCK');
  try {
    await fsp.writeFile(file, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const pid = Number((await fsp.readFile(file, 'utf8').catch(() => '')).trim());
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
      throw new SpoolLockedError(`the spool ${dir} is in use by process ${pid} (remove ${file} if that process is not audithouse)`);
    }
    await fsp.writeFile(file, String(process.pid)); // left by a process that died (or by this pid's predecessor in a container)
  }
  openDirs.add(dir);
}

export async function unlockDir(dir: string): Promise<void> {
  openDirs.delete(dir);
  await fsp.rm(path.join(dir, 'LOCK'), { force: true }).catch(() => {});
}

export async function loadCursor(dir: string): Promise<Position | undefined> {
  try {
    const c = JSON.parse(await fsp.readFile(path.join(dir, 'cursor.json'), 'utf8')) as Position;
    return Number.isSafeInteger(c.seq) && Number.isSafeInteger(c.offset) && c.offset >= 0 ? c : undefined;
  } catch {
    return undefined; // absent or damaged: replay from the first segment (idempotent)
  }
}

/** Not fsynced on purpose: losing it replays a few records, which de-duplication stores once. */
export async function saveCursor(dir: string, position: Position, log?: Logger): Promise<void> {
  const file = path.join(dir, 'cursor.json');
  try {
    await fsp.writeFile(`${file}.tmp`, JSON.stringify(position));
    await fsp.rename(`${file}.tmp`, file);
  } catch (err) {
    log?.warn({ err }, 'spool: could not save the read position (a restart replays more; harmless)');
  }
}

export function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
