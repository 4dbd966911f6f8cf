// Wires the integrity capability for one service process: keys, this process's hash-chain
// stream, and the checkpointer that signs its heads on an interval and seals it at shutdown.
import type { Config } from '../config.ts';
import type { Severity } from '../event/model.ts';
import type { EventRow } from '../event/model.ts';
import { TTL_CUT_HORIZON_MS } from './cuts.ts';
import type { Logger } from '../logger.ts';
import type { Store } from '../store/client.ts';
import { streamParams } from './canonical.ts';
import { HashChain, resolveInstanceId } from './chain.ts';
import { Checkpointer } from './checkpoints.ts';
import { loadIntegrityKeys, type IntegrityKeys } from './keys.ts';

export interface Integrity {
  keys: IntegrityKeys;
  chain: HashChain;
  checkpointer: Checkpointer;
  /** Serializes verifications: one walk at a time per process is enough and bounds the load. */
  verifying: boolean;
  /** Seals the stream (final checkpoints). Call after the writer is closed. */
  close(): Promise<void>;
}

export function integrityKeyConfig(config: Config) {
  return {
    dataDir: config.dataDir,
    key: config.integrity.key,
    signingKey: config.integrity.signingKey,
    trustedKeysFile: config.integrity.trustedKeysFile,
  };
}

export async function startIntegrity(config: Config, store: Store, log?: Logger): Promise<Integrity> {
  const keys = await loadIntegrityKeys(integrityKeyConfig(config), { create: true });
  if (!keys.signer) throw new Error('integrity: no checkpoint signing key');
  const instance = resolveInstanceId(config.integrity.instanceId, config.dataDir);
  const params = streamParams(keys.mac.id, config.integrity.piiDetailKeys, config.integrity.piiResourceTypes);
  // Archiving off: the TTL deletes (retention/policy.ts); rows due within the horizon are cut at once.
  const days = config.retention.days;
  const expiresSoon = config.retention.archiveEnabled
    ? undefined
    : (r: EventRow) => r.timestamp + days[r.severity as Severity] * 86_400_000 <= Date.now() + TTL_CUT_HORIZON_MS;
  const chain = new HashChain(store, keys.mac, params, instance, log, expiresSoon);
  const checkpointer = new Checkpointer(store, chain, keys.signer, config.integrity.checkpointIntervalS * 1000, log);
  checkpointer.start();
  log?.info({ stream: chain.stream, key_id: keys.mac.id, checkpoint_kid: keys.signer.kid }, 'hash chains ready');
  return {
    keys,
    chain,
    checkpointer,
    verifying: false,
    close: () => checkpointer.close(),
  };
}
