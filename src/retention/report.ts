// What a retention run reports (POST /api/v1/audit/retention/run, and `audithouse retention`): per
// month partition and severity, what expired, what was archived and deleted, and what the run
// repaired after an interrupted one. The zod schema is the single source of the RetentionReport
// type (the job returns z.infer of it) and of the document.
import { z } from '@hono/zod-openapi';
import { severities, type Severity } from '../event/model.ts';

const SeverityEnum = z.enum(severities as [Severity, ...Severity[]]);

export const RetentionReportSchema = z
  .object({
    dry_run: z.boolean(),
    archive_enabled: z.boolean(),
    now: z.string().openapi({ description: "The job's clock: expiry is judged against it" }),
    started_at: z.string(),
    finished_at: z.string(),
    cutoffs: z.record(z.string(), z.string()).openapi({ description: 'Per severity: rows with a timestamp before this are expired' }),
    partitions: z.array(z.object({
      partition: z.string().openapi({ example: '202501', description: 'Month partition (toYYYYMM(timestamp))' }),
      severity: SeverityEnum,
      expired_rows: z.number().int(), // for a dry run: found now
      first_timestamp: z.string().nullable(),
      last_timestamp: z.string().nullable(),
      archived_rows: z.number().int().openapi({ description: 'Written to an archive (dry run: would be)' }),
      deleted_rows: z.number().int().openapi({ description: 'Deleted from audit_activities (dry run: would be)' }),
      archive_seq: z.number().int().nullable(),
    })),
    archives: z.array(z.object({
      seq: z.number().int(), partition: z.string(), severity: z.string(), file: z.string(), manifest: z.string(),
      rows: z.number().int(), sha256: z.string(),
    })),
    totals: z.object({ archives: z.number().int(), archived_rows: z.number().int(), deleted_rows: z.number().int() }),
    recovered: z.object({
      discarded_temp_files: z.number().int(),
      discarded_data_files: z.number().int(),
      adopted_archives: z.number().int(),
      quarantined_archives: z.number().int(),
      resumed_deletions: z.number().int(),
    }).openapi({ description: 'What this run repaired after an interrupted one' }),
    warnings: z.array(z.string()),
  })
  .openapi('RetentionReport');

export type RetentionReport = z.infer<typeof RetentionReportSchema>;
export type PartitionReport = RetentionReport['partitions'][number];

/** The report's entry for a partition and severity, added on first use. */
export function partitionEntry(report: RetentionReport, partition: string, severity: Severity): PartitionReport {
  let e = report.partitions.find((p) => p.partition === partition && p.severity === severity);
  if (!e) {
    e = { partition, severity, expired_rows: 0, first_timestamp: null, last_timestamp: null, archived_rows: 0, deleted_rows: 0, archive_seq: null };
    report.partitions.push(e);
  }
  return e;
}
