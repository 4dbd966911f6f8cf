// One sink's delivery loop. While this replica holds the sink's lease: find the streams with
// events past the checkpoint (feed.ts), read the next batch in stored order, send the events the
// filter selects, then move the checkpoint over the whole batch. Failures back off with jitter
// (or exactly the receiver's Retry-After) and retry the same events; nothing is skipped while a
// receiver is down, so an outage is lag, never loss. A batch refused for good (4xx other than
// 408/429) is split until the refused events are found; those are counted and logged, the rest
// delivered.
import type { AuditEvent } from '../event/model.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Store } from '../store/client.ts';
import { loggableError } from '../store/errors.ts';
import { safeUrl, type SinkDefinition } from './config.ts';
import { eventsAfter, loadCheckpoint, saveCheckpoint, streamHeads, streamKey, type PendingStream, type StreamPosition } from '../store/sink-feed.ts';
import { SinkLease } from './lease.ts';
import { DeliveryError, type Transport } from './transport.ts';

const SEVERITY_RANK: Record<string, number> = { LOW: 1, MEDIUM: 2, HIGH: 3, CRITICAL: 4 };
/** Head rows older than this whose events cannot be read are gone (retention, erasure), not late. */
const GONE_AFTER_MS = 120_000;
/** The longest Retry-After honoured as given. */
const MAX_RETRY_AFTER_MS = 600_000;

export function matcher(def: SinkDefinition): (e: AuditEvent) => boolean {
  const { tenants, minSeverity, activityTypes } = def.filter;
  const tenantSet = tenants ? new Set(tenants) : undefined;
  const min = minSeverity ? SEVERITY_RANK[minSeverity]! : 0;
  const patterns = activityTypes?.map((p) => new RegExp(`^${p.replace(/\./g, '\\.').replace(/\*/g, '.*')}$`));
  return (e) => (!tenantSet || tenantSet.has(e.tenant_id)) && (SEVERITY_RANK[e.severity] ?? 0) >= min && (!patterns || patterns.some((re) => re.test(e.activity_type)));
}

/** Exponential backoff with equal jitter: half the step fixed, half random. */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random = Math.random): number {
  const step = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return step / 2 + random() * (step / 2);
}

class Stopped extends Error {}
class LeaseLost extends Error {}

export interface WorkerOptions {
  store: Store;
  metrics: Metrics;
  log: Logger;
  transport: Transport;
  leaseWindowMs?: number;
  holder?: string;
}

export class SinkWorker {
  private stopped = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private positions: Map<string, StreamPosition> | undefined;
  private readonly lease: SinkLease;
  private readonly match: (e: AuditEvent) => boolean;
  private readonly log: Logger;
  /** received_at of the oldest event not delivered yet (undefined: caught up or unknown). */
  oldestPending: number | undefined;
  holding = false;

  constructor(readonly def: SinkDefinition, private readonly o: WorkerOptions) {
    this.lease = new SinkLease(o.store, def.name, o.leaseWindowMs, o.holder);
    this.match = matcher(def);
    this.log = o.log.child({ sink: def.name });
  }

  start(): void {
    this.log.info({ type: this.def.type, url: safeUrl(this.def.url), format: this.def.format }, 'sink started');
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.o.transport.close();
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    let storeFailures = 0;
    while (!this.stopped) {
      try {
        const caughtUp = await this.step();
        storeFailures = 0;
        if (caughtUp) await this.sleep(this.def.batch.maxWaitMs);
      } catch (err) {
        if (err instanceof Stopped) break;
        if (err instanceof LeaseLost) {
          this.positions = undefined;
          continue;
        }
        this.o.metrics.sinkFailures.inc({ sink: this.def.name, reason: 'store' });
        this.log.warn({ err: loggableError(err) }, 'sink: reading the store failed; retrying');
        await this.sleep(backoffMs(storeFailures++, this.def.retry.initialMs, this.def.retry.maxMs));
      }
    }
  }

  /** One round; true when there was nothing more to deliver (or no lease). */
  private async step(): Promise<boolean> {
    this.holding = await this.lease.holds();
    if (!this.holding) {
      this.positions = undefined; // another replica moves the checkpoint meanwhile
      this.oldestPending = undefined;
      return true;
    }
    const positions = (this.positions ??= await this.loadPositions());
    const heads = await streamHeads(this.o.store, this.def.filter.tenants);
    const pending: PendingStream[] = [];
    for (const h of heads) {
      const at = positions.get(streamKey(h.tenant, h.stream));
      if (h.maxSeq > (at?.seq ?? 0)) pending.push({ tenant: h.tenant, stream: h.stream, after: at ?? { seq: 0, receivedAt: h.minReceivedAt } });
    }
    const limit = this.def.batch.maxEvents;
    const batch = await eventsAfter(this.o.store, pending, limit);
    this.oldestPending = batch.length > 0 ? Math.min(...batch.map((b) => b.receivedAt)) : undefined;
    const selected = batch.filter((b) => this.match(b.event)).map((b) => b.event);
    if (selected.length > 0) await this.deliver(selected);
    const moved = new Map<string, StreamPosition>();
    for (const b of batch) {
      const key = streamKey(b.event.tenant_id, b.stream);
      const prev = moved.get(key);
      // The bound kept is the highest received_at read, a safe floor for the rest of the stream.
      moved.set(key, { seq: b.seq, receivedAt: Math.max(b.receivedAt, prev?.receivedAt ?? 0) });
    }
    const exhaustive = batch.length < limit;
    if (exhaustive) {
      // Everything visible was read: a head past it that is old is rows gone by retention or
      // erasure (or seqs left unused), never events still to come. Skip them, or they are asked for forever.
      for (const h of heads) {
        const key = streamKey(h.tenant, h.stream);
        const at = moved.get(key) ?? positions.get(key);
        if (h.maxSeq > (at?.seq ?? 0) && Date.now() - h.lastStoredAt > GONE_AFTER_MS) {
          moved.set(key, { seq: h.maxSeq, receivedAt: h.maxReceivedAt });
          this.log.info({ tenant: h.tenant, stream: h.stream, from_seq: at?.seq ?? 0, to_seq: h.maxSeq }, 'sink: events no longer stored, skipped');
        }
      }
    }
    if (moved.size > 0) {
      await saveCheckpoint(this.o.store, this.def.name, moved);
      for (const [k, p] of moved) positions.set(k, p);
    }
    if (exhaustive) {
      this.oldestPending = undefined;
      await this.o.transport.flush?.();
    }
    return exhaustive;
  }

  /** A new sink starts "now": every stream at its current head, recorded before anything else. */
  private async loadPositions(): Promise<Map<string, StreamPosition>> {
    const saved = await loadCheckpoint(this.o.store, this.def.name);
    if (saved.created) return saved.positions;
    const start = new Map<string, StreamPosition>();
    if (this.def.start === 'now') {
      for (const h of await streamHeads(this.o.store, this.def.filter.tenants)) start.set(streamKey(h.tenant, h.stream), { seq: h.maxSeq, receivedAt: h.maxReceivedAt });
    }
    await saveCheckpoint(this.o.store, this.def.name, start, { marker: true });
    this.log.info({ start: this.def.start, streams: start.size }, 'sink: first start, position recorded');
    return start;
  }

  /** Sends until delivered; splits a batch refused for good to find the refused events. */
  private async deliver(events: AuditEvent[]): Promise<void> {
    const { name } = this.def;
    for (let attempt = 0; ; attempt++) {
      if (this.stopped) throw new Stopped();
      try {
        await this.o.transport.send(events);
        this.o.metrics.sinkDelivered.inc({ sink: name }, events.length);
        return;
      } catch (err) {
        if (!(err instanceof DeliveryError)) throw err;
        if (err.permanent) {
          if (events.length === 1) {
            this.o.metrics.sinkFailures.inc({ sink: name, reason: 'rejected' });
            this.log.warn({ event_id: events[0]!.id, tenant: events[0]!.tenant_id, reason: err.message }, 'sink: event refused for good by the receiver; skipped');
            return;
          }
          const half = Math.ceil(events.length / 2);
          await this.deliver(events.slice(0, half));
          await this.deliver(events.slice(half));
          return;
        }
        this.o.metrics.sinkFailures.inc({ sink: name, reason: err.reason });
        const wait = err.retryAfterMs !== undefined ? Math.min(err.retryAfterMs, MAX_RETRY_AFTER_MS) : backoffMs(attempt, this.def.retry.initialMs, this.def.retry.maxMs);
        if (attempt === 0 || attempt % 10 === 0) this.log.warn({ reason: err.reason, detail: err.message, attempt: attempt + 1, retry_in_ms: Math.round(wait) }, 'sink: delivery failed; retrying');
        await this.sleep(wait);
        // A replica that lost the lease meanwhile stops; the holder resends from the checkpoint.
        if (!(await this.lease.holds().catch(() => true))) throw new LeaseLost();
      }
    }
  }
}
