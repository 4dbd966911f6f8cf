// The writer's side of the hash chains. The BatchWriter hands each flush's fresh (de-duplicated)
// rows to `append`, which links them into their tenant's chain of this stream and has the store
// insert them with their links (src/store/activity-rows.ts owns the statement).
//
// A stream is one writer process lifetime ("<instance>/<start id>"): replicas never share one,
// and a restart starts a new stream instead of reading its old head back (a head read from a
// database someone may have altered is no anchor; the old stream was sealed by its final
// checkpoint). If an insert fails, what reached the table is unknown (a timed-out insert may
// still land), so the chain moves to a new stream rather than reuse a sequence number.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { toChTime, type EventRow } from '../event/model.ts';
import type { Logger } from '../logger.ts';
import { insertChainedEvents, type ChainColumns } from '../store/activity-rows.ts';
import type { Store } from '../store/client.ts';
import { CANON_COMPACT, genesisHash, paramsText, policyOf, sealEvent, type PiiPolicy, type StreamParams } from './canonical.ts';
import type { ChainLink } from '../store/chain-rows.ts';
import { RetentionCutRecorder } from './cuts.ts';
import type { MacKeys } from './keys.ts';

/** Rows sealed between two yields to the event loop (~4 ms of work: a 20,000-row batch must not stall requests). */
const SEAL_SLICE = 250;
export const INSTANCE_ID_FILE = 'instance-id';

export interface Head {
  seq: number;
  hash: string;
}

/** A chain head that is stored and may be signed. */
export interface StreamHead extends Head {
  tenant_id: string;
  stream: string;
}

/** The instance id: configured, or created once in the data dir (so one host's streams read alike). */
export function resolveInstanceId(configured: string | undefined, dataDir: string): string {
  if (configured) return configured;
  const file = path.join(dataDir, INSTANCE_ID_FILE);
  try {
    const id = fs.readFileSync(file, 'utf8').trim();
    if (/^[A-Za-z0-9._-]{1,64}$/.test(id)) return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = `i-${crypto.randomBytes(4).toString('hex')}`;
  fs.mkdirSync(dataDir, { recursive: true });
  try {
    fs.writeFileSync(file, id + '\n', { flag: 'wx' });
    return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return fs.readFileSync(file, 'utf8').trim();
    throw err;
  }
}

/** A new stream id: the instance, then a time-ordered random suffix unique across restarts and replicas. */
export function newStreamId(instance: string): string {
  return `${instance}/${Date.now().toString(36)}-${crypto.randomBytes(4).toString('hex')}`;
}

/** A batch linked into its chains, not stored yet (HashChain.sealRows → HashChain.store). */
export interface SealedRows {
  stream: string;
  compact: boolean;
  rows: readonly EventRow[];
  /** links[i]: rows[i]'s place in its chain. */
  links: ChainColumns[];
  /** Chain heads once these rows are stored. */
  staged: Map<string, Head>;
  /** Links the TTL will drop soon (archiving off): recorded as cuts once stored. */
  expiring: ChainLink[];
}

export class HashChain {
  private current: string;
  private readonly params: StreamParams;
  private readonly paramsJson: string;
  private readonly policy: PiiPolicy;
  /** Stored heads of the current stream, by tenant. */
  private heads = new Map<string, Head>();
  private genesis = new Map<string, string>();
  private registered = false;
  private sealed = false;
  /** Last stored heads of streams left after a failed insert, still to be checkpointed. */
  private retired: StreamHead[] = [];
  private lock: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Store,
    private readonly keys: MacKeys,
    params: StreamParams,
    readonly instance: string,
    private readonly log?: Logger,
    /**
     * Archiving off, ClickHouse's TTL deletes: rows it will drop at once (imports with old
     * timestamps) or before the retention job's next run are recorded as retention cuts as soon
     * as they are stored, since no job sees them go.
     */
    private readonly expiresSoon?: (row: EventRow) => boolean,
  ) {
    this.params = params;
    this.paramsJson = paramsText(params);
    this.policy = policyOf(params);
    this.current = newStreamId(instance);
  }

  get stream(): string {
    return this.current;
  }

  /** Stored heads of the current stream. */
  currentHeads(): StreamHead[] {
    return [...this.heads].map(([tenant_id, h]) => ({ tenant_id, stream: this.current, ...h }));
  }

  /** Heads of abandoned streams, handed over once to be checkpointed. */
  takeRetiredHeads(): StreamHead[] {
    const r = this.retired;
    this.retired = [];
    return r;
  }

  /** Links rows into their chains and inserts them; resolves once they are stored. */
  append(rows: readonly EventRow[]): Promise<void> {
    const run = this.lock.then(async () => this.store(await this.sealRows(rows)));
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** No appends after the final checkpoint: anything after it would read as forged. */
  seal(): void {
    this.sealed = true;
  }

  /**
   * Links rows into their chains without storing them, continuing after `after` (a batch sealed
   * but not stored yet), so the next batch is ready while the previous one is being inserted.
   * Yields to the event loop every SEAL_SLICE rows.
   */
  async sealRows(rows: readonly EventRow[], after?: SealedRows): Promise<SealedRows> {
    if (this.sealed) throw new Error('hash chain is sealed (service shutting down)');
    await this.register();
    const stream = this.current;
    const compact = this.policy.version >= CANON_COMPACT;
    const staged = new Map<string, Head>();
    const base = after?.stream === stream ? after.staged : undefined;
    const links: ChainColumns[] = new Array(rows.length);
    const expiring: ChainLink[] = [];
    for (let i = 0; i < rows.length; i++) {
      if (i > 0 && i % SEAL_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const r = rows[i]!;
      const before = staged.get(r.tenant_id) ?? base?.get(r.tenant_id) ?? this.heads.get(r.tenant_id) ?? { seq: 0, hash: this.genesisOf(r.tenant_id) };
      const link = { stream, seq: before.seq + 1, prev_hash: before.hash };
      const sealed = sealEvent(this.keys, this.policy, r, link);
      staged.set(r.tenant_id, { seq: link.seq, hash: sealed.hash });
      links[i] = { stream, seq: link.seq, prev_hash: link.prev_hash, hash: sealed.hash, pii_mac: sealed.pii_mac };
      if (this.expiresSoon?.(r)) expiring.push({ tenant_id: r.tenant_id, stream, seq: link.seq, prev_hash: compact ? '' : link.prev_hash, hash: sealed.hash });
    }
    return { stream, compact, rows, links, staged, expiring };
  }

  /** Inserts a sealed batch; call in sealing order. A batch sealed before a failed insert must be sealed again. */
  async store(s: SealedRows): Promise<void> {
    if (s.rows.length === 0) return;
    if (s.stream !== this.current) throw new Error('the hash chain moved to a new stream since this batch was sealed');
    try {
      await insertChainedEvents(this.db, s.rows, s.links, s.compact);
    } catch (err) {
      this.rotate();
      throw err;
    }
    for (const [tenant, head] of s.staged) this.heads.set(tenant, head);
    if (s.expiring.length > 0) await this.recordExpiring(s.expiring);
  }

  private async recordExpiring(links: ChainLink[]): Promise<void> {
    links.sort((a, b) => (a.tenant_id < b.tenant_id ? -1 : a.tenant_id > b.tenant_id ? 1 : a.seq - b.seq));
    try {
      const recorder = new RetentionCutRecorder(this.db, this.keys);
      for (const l of links) await recorder.add(l);
      await recorder.finish();
    } catch (err) {
      this.log?.warn({ err, rows: links.length }, 'could not record retention cuts for rows the TTL drops: verification will report them deleted');
    }
  }

  private genesisOf(tenant: string): string {
    let g = this.genesis.get(tenant);
    if (g === undefined) {
      g = genesisHash(this.keys, tenant, this.current, this.paramsJson, this.policy.version);
      this.genesis.set(tenant, g);
    }
    return g;
  }

  /** Records the stream and its parameters before its first row (a row of an unknown stream is forged). */
  private async register(): Promise<void> {
    if (this.registered) return;
    await this.db.insertCompact('integrity_streams', ['stream', 'instance', 'started_at', 'params'], [
      [this.current, this.instance, toChTime(Date.now()), this.paramsJson],
    ], 'insert');
    this.registered = true;
  }

  private rotate(): void {
    const old = this.current;
    this.retired.push(...this.currentHeads());
    this.current = newStreamId(this.instance);
    this.heads = new Map();
    this.genesis = new Map();
    this.registered = false;
    this.log?.warn({ old_stream: old, stream: this.current }, 'insert failed: continuing the hash chains in a new stream');
  }
}
