// Retention with archiving off (see src/retention/job.ts): ClickHouse's TTL deletes; the run
// records the rows it may take as retention cuts, then makes it act now (MATERIALIZE TTL) in
// partitions still holding expired rows, and reports what went.
import type { StepHook } from '../archive/writer.ts';
import type { Severity } from '../event/model.ts';
import { TTL_CUT_HORIZON_MS, recordRetentionCuts } from '../integrity/cuts.ts';
import { expiredCondition, expiredGroups, materializeTtl, tableHasTtl } from '../store/expiry.ts';
import { cutoffsAt } from './policy.ts';
import type { RetentionDeps } from './job.ts';
import { partitionEntry, type RetentionReport } from './report.ts';

/** Archiving off: the TTL deletes; make it act now where expired rows remain. */
export async function enforceTtl(deps: RetentionDeps, report: RetentionReport, cutoffs: Record<Severity, number>, step: StepHook): Promise<void> {
  const { store, metrics, log } = deps;
  if (!(await tableHasTtl(store))) {
    const w = 'audit_activities has no retention TTL although archiving is off; run `audithouse migrate` to reconcile';
    log.warn(w);
    report.warnings.push(w);
  }
  const before = await expiredGroups(store, cutoffs);
  if (deps.integrity && before.length > 0) {
    // The TTL deletes inside ClickHouse, by the server's clock, in any merge: record every row
    // it may take before the next run (recording a row that is still there is harmless).
    const horizon = expiredCondition(cutoffsAt(Math.max(Date.parse(report.now), Date.now()) + TTL_CUT_HORIZON_MS, deps.config.retention.days));
    await recordRetentionCuts(store, deps.integrity.mac, horizon.sql, horizon.params);
  }
  for (const partition of new Set(before.map((g) => g.partition))) {
    await materializeTtl(store, partition);
    await step('ttl-materialized', { partition });
  }
  const after = new Map((await expiredGroups(store, cutoffs)).map((g) => [`${g.partition}/${g.severity}`, g.rows]));
  for (const g of before) {
    const deleted = Math.max(0, g.rows - (after.get(`${g.partition}/${g.severity}`) ?? 0));
    Object.assign(partitionEntry(report, g.partition, g.severity), {
      expired_rows: g.rows,
      first_timestamp: new Date(g.firstMs).toISOString(),
      last_timestamp: new Date(g.lastMs).toISOString(),
      deleted_rows: deleted,
    });
    metrics.retentionDeleted.inc({ severity: g.severity }, deleted);
    report.totals.deleted_rows += deleted;
  }
}
