// Runs the retention job on AUDIT_RETENTION_SCHEDULE (croner) and keeps audit_storage_size_bytes
// fresh. Started by `serve` only: CLI verbs and tests run the job explicitly.
import { Cron } from 'croner';
import type { Services } from '../env.ts';
import { RetentionBusyError } from './lock.ts';
import { refreshStorageSize } from './storage.ts';

const STORAGE_REFRESH_MS = 60_000;

export interface RetentionSchedule {
  /** Next scheduled run, or null when the schedule is "off". */
  nextRun(): Date | null;
  stop(): void;
}

export function startRetentionSchedule(services: Services, opts: { storageRefreshMs?: number } = {}): RetentionSchedule {
  const { config, retention, store, metrics, log } = services;
  const pattern = config.retention.schedule;
  // protect: a run still going when the next tick comes is not overlapped (the job also refuses
  // a second concurrent run, from the API or a timer); catch: a failed run never kills the timer.
  const cron = pattern === 'off'
    ? undefined
    : new Cron(pattern, { name: 'audithouse-retention', protect: true, catch: true, unref: true }, async () => {
        try {
          await retention.run();
        } catch (err) {
          // Failures are logged and counted by the job; a busy job is simply skipped this tick.
          if (err instanceof RetentionBusyError) log.info({ reason: err.message }, 'scheduled retention run skipped');
        }
      });
  if (cron) log.info({ schedule: pattern, next: cron.nextRun()?.toISOString() }, 'retention job scheduled');
  else log.warn('AUDIT_RETENTION_SCHEDULE=off: this instance runs no retention job on a timer');

  const refresh = () => void refreshStorageSize(store, metrics).catch((err: unknown) => log.warn({ err }, 'storage size refresh failed'));
  refresh();
  const timer = setInterval(refresh, opts.storageRefreshMs ?? STORAGE_REFRESH_MS);
  timer.unref();
  return {
    nextRun: () => cron?.nextRun() ?? null,
    stop() {
      cron?.stop();
      clearInterval(timer);
    },
  };
}
