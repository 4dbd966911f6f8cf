// A dry run of retention: what a run at a given clock would archive and delete, from reads only.
import type { Severity } from '../event/model.ts';
import { pendingArchives } from '../archive/catalog.ts';
import { expiredGroups } from '../store/expiry.ts';
import type { RetentionDeps } from './job.ts';
import { partitionEntry, type RetentionReport } from './report.ts';

/** Dry run: what a run at this clock would archive and delete. Reads only. */
export async function plan(deps: RetentionDeps, report: RetentionReport, cutoffs: Record<Severity, number>): Promise<void> {
  const { store, config } = deps;
  const pending = config.retention.archiveEnabled ? await pendingArchives(store) : [];
  for (const g of await expiredGroups(store, cutoffs)) {
    const e = partitionEntry(report, g.partition, g.severity);
    // Rows of committed-but-undeleted archives are deleted, not archived again.
    const alreadyArchived = pending.filter((a) => a.partition === g.partition && a.severity === g.severity).reduce((n, a) => n + a.row_count, 0);
    Object.assign(e, {
      expired_rows: g.rows,
      first_timestamp: new Date(g.firstMs).toISOString(),
      last_timestamp: new Date(g.lastMs).toISOString(),
      archived_rows: config.retention.archiveEnabled ? Math.max(0, g.rows - alreadyArchived) : 0,
      deleted_rows: g.rows,
    });
    report.totals.archived_rows += e.archived_rows;
    report.totals.deleted_rows += e.deleted_rows;
  }
  report.recovered.resumed_deletions = pending.length;
}
