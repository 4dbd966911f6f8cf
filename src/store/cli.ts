// `audithouse migrate [--cluster NAME] [--dry-run]`: apply the ClickHouse migrations and exit, or
// print the DDL a fresh deployment runs (connecting to nothing).
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { createLogger } from '../logger.ts';
import { Store } from './client.ts';
import { migrate, plan } from './migrate.ts';

/** `ttl`: the delete TTL clause the retention policy gives audit_activities (null: none). */
export async function migrateCommand(args: string[], config: Config, ttl: string | null): Promise<number> {
  const { values } = parseArgs({ args, options: { cluster: { type: 'string' }, 'dry-run': { type: 'boolean' } }, strict: true });
  const cluster = values.cluster ?? config.clickhouse.cluster;
  if (values['dry-run']) {
    // Prints the DDL a fresh deployment runs; connects to nothing.
    for (const step of plan({ database: config.clickhouse.database, cluster })) {
      process.stdout.write(`-- ${step.name}\n${step.statements.map((s) => `${s};\n`).join('\n')}\n`);
    }
    return 0;
  }
  const log = createLogger(config.log);
  const store = await Store.fromConfig(config);
  try {
    const r = await migrate(store, { ttl, log, cluster });
    process.stdout.write(`applied ${r.applied.length} migration(s)${r.applied.length ? `: ${r.applied.join(', ')}` : ''}; ${r.skipped.length} already applied; TTL ${r.ttlChanged ? 'updated' : 'unchanged'}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
