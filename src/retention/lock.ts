// One retention run at a time per archive directory, across processes (the service's timer, a
// `retention run` from the shell, a second instance pointed at the same directory). In-process
// overlap is refused earlier, by the job itself; croner's `protect` covers the timer.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOCK_FILE } from '../archive/format.ts';
import { processAlive } from '../process-alive.ts';

export class RetentionBusyError extends Error {
  override readonly name = 'RetentionBusyError';
}

interface LockInfo {
  pid: number;
  host: string;
  started_at: string;
}

export interface RetentionLock {
  release(): void;
}

/**
 * Takes <root>/.retention.lock (O_EXCL). A lock left by a dead process on this host, or by this
 * very process (which only reaches here when it runs nothing), is stale and taken over. A lock
 * of another host is honoured: remove the file by hand if that host is gone.
 */
export function acquireLock(root: string): RetentionLock {
  fs.mkdirSync(root, { recursive: true });
  const file = path.join(root, LOCK_FILE);
  const mine: LockInfo = { pid: process.pid, host: os.hostname(), started_at: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(mine) + '\n', { flag: 'wx', mode: 0o644 });
      return {
        release() {
          try {
            const held = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
            if (held.pid === mine.pid && held.host === mine.host && held.started_at === mine.started_at) fs.unlinkSync(file);
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let held: LockInfo | undefined;
    try {
      held = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
    } catch {
      held = undefined; // unreadable or half-written: treat as stale
    }
    const stale = !held || (held.host === mine.host && (held.pid === process.pid || !processAlive(held.pid)));
    if (!stale) {
      throw new RetentionBusyError(`a retention run holds ${file} (pid ${held!.pid} on ${held!.host} since ${held!.started_at})`);
    }
    fs.rmSync(file, { force: true });
  }
  throw new RetentionBusyError(`could not take ${file}`);
}
