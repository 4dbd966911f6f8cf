// What a retention run reports: per month partition and severity, what expired, what was archived
// and deleted, and what the run repaired after an interrupted one. Served as is by POST
// /v1/retention/run and printed by `audithouse retention`.
import type { Severity } from '../event/model.ts';
import type { RecoveryReport } from './recover.ts';

export interface PartitionReport {
  partition: string;
  severity: Severity;
  /** Expired rows found (for a dry run: now). */
  expired_rows: number;
  first_timestamp: string | null;
  last_timestamp: string | null;
  /** Rows written to an archive (dry run: that would be). */
  archived_rows: number;
  /** Rows deleted from audit_activities (dry run: that would be). */
  deleted_rows: number;
  archive_seq: number | null;
}

export interface RetentionReport {
  dry_run: boolean;
  archive_enabled: boolean;
  now: string;
  started_at: string;
  finished_at: string;
  /** Per severity: rows with a timestamp before this are expired. */
  cutoffs: Record<Severity, string>;
  partitions: PartitionReport[];
  archives: Array<{ seq: number; partition: string; severity: string; file: string; manifest: string; rows: number; sha256: string }>;
  totals: { archives: number; archived_rows: number; deleted_rows: number };
  /** What this run repaired after an interrupted one. */
  recovered: RecoveryReport;
  warnings: string[];
}

/** The report's entry for a partition and severity, added on first use. */
export function partitionEntry(report: RetentionReport, partition: string, severity: Severity): PartitionReport {
  let e = report.partitions.find((p) => p.partition === partition && p.severity === severity);
  if (!e) {
    e = { partition, severity, expired_rows: 0, first_timestamp: null, last_timestamp: null, archived_rows: 0, deleted_rows: 0, archive_seq: null };
    report.partitions.push(e);
  }
  return e;
}
