// `audithouse verify [--tenant T] [--since 7d|ISO] [--json] [--public-key]`: verifies the stored
// hash chains and checkpoints; exits 0 when everything verifies, 1 on any break, 2 on bad usage,
// 3 when it cannot verify at all (no key, store unreachable or locked by a running service).
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { Store } from '../store/client.ts';
import { IntegrityKeyError, loadIntegrityKeys } from './keys.ts';
import { integrityKeyConfig } from './service.ts';
import { parseSince, verifyChains, type VerifyReport } from './verify.ts';

export function formatReport(r: VerifyReport): string {
  const scope = `${r.tenant_id ? `tenant ${r.tenant_id}` : 'all tenants'}${r.since ? `, since ${r.since}` : ''}`;
  const lines = [
    `verified ${r.rows} event(s) in ${r.chains} chain(s) (${scope}): ${r.checkpoints} signed checkpoint(s), ${r.cuts} retention cut(s), ${r.erased_rows} erased event(s)${r.legacy_rows ? `, ${r.legacy_rows} legacy event(s) without a chain` : ''}`,
    `${r.duration_ms} ms, ${r.rows_per_second} events/s`,
  ];
  if (r.ok) lines.push('OK: every chain verifies');
  for (const b of r.breaks) {
    lines.push(`BROKEN tenant=${b.tenant_id} stream=${b.stream} seq=${b.seq} kind=${b.kind}${b.event_id ? ` event=${b.event_id}` : ''}: ${b.detail}`);
  }
  if (r.more_breaks) lines.push('... more chains are broken than listed');
  return lines.join('\n') + '\n';
}

export async function verifyCommand(args: string[], config: Config): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { tenant: { type: 'string' }, since: { type: 'string' }, json: { type: 'boolean' }, 'public-key': { type: 'boolean' } },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`verify: ${(err as Error).message}\nusage: audithouse verify [--tenant T] [--since 7d|2026-01-01] [--json] [--public-key]\n`);
    return 2;
  }
  const since = values.since === undefined ? undefined : parseSince(values.since);
  if (values.since !== undefined && since === undefined) {
    process.stderr.write('verify: --since must be an ISO-8601 date or date-time, or a duration such as 90m, 24h or 7d\n');
    return 2;
  }
  let keys;
  try {
    keys = await loadIntegrityKeys(integrityKeyConfig(config), { create: false });
  } catch (err) {
    if (!(err instanceof IntegrityKeyError)) throw err;
    process.stderr.write(`verify: ${err.message}\n`);
    return 3;
  }
  if (values['public-key']) {
    // The JWKS an auditor pins (AUDIT_INTEGRITY_TRUSTED_KEYS) to verify checkpoints independently.
    process.stdout.write(JSON.stringify({ keys: keys.publicJwk ? [keys.publicJwk] : [...keys.trusted.values()].map((k) => k.jwk) }, null, 2) + '\n');
    return 0;
  }
  let store: Store;
  try {
    store = await Store.fromConfig(config);
  } catch (err) {
    // Embedded mode: the engine's directory is locked while a service runs on it.
    process.stderr.write(`verify: cannot open the store (${(err as Error).message.split('\n')[0]}); with the embedded engine, stop the service first or use GET /api/v1/audit/integrity\n`);
    return 3;
  }
  try {
    const report = await verifyChains(store, keys, { tenant: values.tenant, since });
    process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
    return report.ok ? 0 : 1;
  } finally {
    await store.close();
  }
}
