// Whether a process id runs on this machine: how the spool directory's lock and the retention
// lock tell a lock left by a dead process from one that is held.

/** Signal 0 probes the pid without touching it; EPERM means it runs, under another user. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
