// Runs the retention job on AUDIT_RETENTION_SCHEDULE (croner). Started by `serve` only: CLI verbs
// and tests run the job explicitly. With several service replicas, every replica's timer fires,
// and a ClickHouse lease on the scheduled time lets exactly one of them run it.
import { Cron } from 'croner';
import { acquireLease, processHolderId } from '../cluster/lease.ts';
import type { Services } from '../env.ts';
import { loggableError } from '../store/errors.ts';
import { RetentionBusyError } from './lock.ts';

export interface RetentionSchedule {
  /** Next scheduled run, or null when the schedule is "off". */
  nextRun(): Date | null;
  stop(): void;
}

/** The lease slot of a scheduled run: its scheduled minute, the same on every replica. */
export function scheduledSlot(at: Date | null, now = Date.now()): string {
  const ms = at?.getTime() ?? now;
  return new Date(Math.floor(ms / 60_000) * 60_000).toISOString();
}

export function startRetentionSchedule(services: Services, opts: { holder?: string } = {}): RetentionSchedule {
  const { config, retention, store, log } = services;
  const holder = opts.holder ?? processHolderId;
  const pattern = config.retention.schedule;
  // protect: a run still going when the next tick comes is not overlapped (the job also refuses
  // a second concurrent run, from the API or a timer); catch: a failed run never kills the timer.
  // No name: croner names are process-global, and tests run several services in one process.
  const cron = pattern === 'off'
    ? undefined
    : new Cron(pattern, { protect: true, catch: true, unref: true }, async (self: Cron) => {
        try {
          const slot = scheduledSlot(self.currentRun());
          const lease = await acquireLease(store, 'retention', slot, holder);
          if (!lease.acquired) {
            log.info({ slot, holder: lease.holder }, 'scheduled retention run left to the replica holding the lease');
            return;
          }
          await retention.run();
        } catch (err) {
          // Failures are logged and counted by the job; a busy job is simply skipped this tick.
          if (err instanceof RetentionBusyError) log.info({ reason: err.message }, 'scheduled retention run skipped');
          else log.warn({ err: loggableError(err) }, 'scheduled retention run did not start');
        }
      });
  if (cron) log.info({ schedule: pattern, next: cron.nextRun()?.toISOString() }, 'retention job scheduled');
  else log.warn('AUDIT_RETENTION_SCHEDULE=off: this instance runs no retention job on a timer');
  return {
    nextRun: () => cron?.nextRun() ?? null,
    stop() {
      cron?.stop();
    },
  };
}
