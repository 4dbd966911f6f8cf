// Shared pieces of the integrity tests: services on a given database (to restart onto the same
// data), direct writers with their own chain and instance id, and reading chain columns back.
import { loadConfig } from '../../src/config.ts';
import type { EventRow } from '../../src/event/model.ts';
import { uuidv7 } from '../../src/event/ids.ts';
import { BatchWriter } from '../../src/ingest/writer.ts';
import { streamParams } from '../../src/integrity/canonical.ts';
import { HashChain } from '../../src/integrity/chain.ts';
import { Checkpointer } from '../../src/integrity/checkpoints.ts';
import type { IntegrityKeys } from '../../src/integrity/keys.ts';
import { createLogger } from '../../src/logger.ts';
import { startServices, type StartedServices } from '../../src/services.ts';
import type { FaultInjector } from './faults.ts';
import type { Store } from '../../src/store/client.ts';
import { testEnv } from './service.ts';

/** A service on an existing database (a "restart"), sharing the process's engine. */
export async function startOn(database: string, env: Record<string, string> = {}, opts: { faults?: FaultInjector } = {}): Promise<StartedServices> {
  const config = loadConfig(testEnv({
    CLICKHOUSE_DATABASE: database,
    AUDIT_BATCH_LINGER_MS: '1',
    AUDIT_ACCESS_LOG_ENABLED: 'false',
    // The database's spool belongs to the test's main service (one holder per process).
    AUDIT_SPOOL_MAX_BYTES: '0',
    ...env,
  }));
  return startServices(config, createLogger({ level: 'silent' }), opts);
}

/** A writer process of its own: its own instance id, stream, chain and checkpointer. */
export function directWriter(store: Store, keys: IntegrityKeys, instance: string, pii = { detailKeys: ['email', 'user_id'], resourceTypes: ['user'] }, version?: number) {
  const chain = new HashChain(store, keys.mac, streamParams(keys.mac.id, pii.detailKeys, pii.resourceTypes, version), instance);
  const writer = new BatchWriter(store, { maxRows: 500, lingerMs: 1, chain });
  const checkpointer = new Checkpointer(store, chain, keys.signer!, 0);
  return {
    chain,
    writer,
    checkpointer,
    async close() {
      await writer.close();
      await checkpointer.close();
    },
  };
}

let n = 0;
/** A stored-form event (as normalize would produce it). */
export function row(over: Partial<EventRow> = {}): EventRow {
  const now = Date.now();
  n++;
  return {
    id: uuidv7(now),
    tenant_id: 'acme',
    timestamp: now - (n % 50) * 1000,
    received_at: now,
    activity_type: 'user.login',
    severity: ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'][n % 4]!,
    action: 'login',
    outcome: n % 7 === 0 ? 'failure' : 'success',
    resource_type: n % 5 === 0 ? 'user' : 'file',
    resource_id: `r-${n % 13}`,
    user_agent: `agent/${n % 3}`,
    user_id: `user-${n % 9}`,
    ip_address: `10.0.${n % 4}.${n % 250}`,
    request_id: `req-${n}`,
    description: `event number ${n} "quoted" \u00e9\u{1F600}`,
    details: JSON.stringify(n % 3 === 0 ? { n, email: `u${n % 9}@example.com`, nested: { user_id: `user-${n % 9}`, list: [1, 'two', null] } } : { n }),
    ...over,
  };
}

export interface ChainColumns {
  tenant_id: string;
  stream: string;
  seq: number;
  prev_hash: string;
  hash: string;
  id: string;
}

export async function chainRows(store: Store, where = '1', params: Record<string, unknown> = {}): Promise<ChainColumns[]> {
  const rows = await store.query<Omit<ChainColumns, 'id'> & { event_id: string }>(
    `SELECT tenant_id, toString(stream) AS stream, seq, prev_hash, hash, toString(id) AS event_id FROM ${store.table('audit_activities')}
     WHERE ${where} ORDER BY tenant_id, stream, seq SETTINGS output_format_json_quote_64bit_integers = 0`,
    params,
  );
  return rows.map(({ event_id, ...r }) => ({ ...r, id: event_id, seq: Number(r.seq) }));
}

/** A Store bound to another database of the same engine (shares the connection). */
export function storeOn(store: Store, database: string): Store {
  const s = Object.create(store) as Store;
  Object.defineProperty(s, 'database', { value: database });
  return s;
}
