// `audithouse retention run [--dry-run] [--json]`: one run of the retention job, from the shell.
// (In embedded mode the engine's data directory belongs to one process: stop the service first,
// or call POST /api/v1/audit/retention/run on it instead.)
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { createLogger } from '../logger.ts';
import { createMetrics } from '../metrics.ts';
import { Store } from '../store/client.ts';
import { migrate } from '../store/migrate.ts';
import { RetentionJob } from './job.ts';
import type { RetentionReport } from './report.ts';
import { tableTtl } from './policy.ts';
import { loadIntegrityKeys } from '../integrity/keys.ts';
import { integrityKeyConfig } from '../integrity/service.ts';

export async function retentionRunCommand(args: string[], config: Config): Promise<number> {
  const { values } = parseArgs({ args, options: { 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } }, strict: true });
  const log = createLogger(config.log);
  const metrics = createMetrics({ defaultMetrics: false });
  const store = await Store.fromConfig(config, metrics);
  try {
    await migrate(store, { ttl: tableTtl(config), log });
    // The service's integrity key (created like the service would): deletions are recorded as cuts.
    const { mac } = await loadIntegrityKeys(integrityKeyConfig(config), { create: true });
    const job = new RetentionJob({ store, config, metrics, log, integrity: { mac } });
    let report: RetentionReport;
    try {
      report = await job.run({ dryRun: values['dry-run'] === true });
    } catch (err) {
      process.stderr.write(`retention run failed: ${(err as Error).message}\n`);
      return 1;
    }
    process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
    return 0;
  } finally {
    await store.close();
  }
}

export function formatReport(r: RetentionReport): string {
  const head = `retention ${r.dry_run ? 'dry run' : 'run'} (archiving ${r.archive_enabled ? 'on' : 'off'}) at ${r.now}: `;
  const lines = [
    head + (r.dry_run
      ? `${r.totals.archived_rows} row(s) would be archived, ${r.totals.deleted_rows} deleted`
      : `${r.totals.archived_rows} row(s) archived in ${r.totals.archives} archive(s), ${r.totals.deleted_rows} deleted`),
    `cut-offs: ${Object.entries(r.cutoffs).map(([s, t]) => `${s} < ${t}`).join(', ')}`,
  ];
  for (const p of r.partitions) {
    lines.push(`  ${p.partition} ${p.severity.padEnd(8)} expired ${p.expired_rows}, archived ${p.archived_rows}, deleted ${p.deleted_rows}${p.archive_seq ? `  (archive ${p.archive_seq})` : ''}`);
  }
  const rec = r.recovered;
  if (Object.values(rec).some((n) => n > 0)) lines.push(`recovered from an interrupted run: ${JSON.stringify(rec)}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n') + '\n';
}
