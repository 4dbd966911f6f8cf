// One delivering replica per sink, through the lease the retention job uses (src/cluster/lease.ts):
// time is cut into slots of `windowMs`, and each slot of each sink goes to the first replica that
// asks. The holder asks for the next slot during the last third of its own, before anyone else
// can (others ask when a slot begins), so a live holder keeps the sink and a dead one loses it
// within one or two windows.
import { acquireLease, processHolderId } from '../cluster/lease.ts';
import type { Store } from '../store/client.ts';

export const SINK_LEASE_WINDOW_MS = 30_000;

export class SinkLease {
  private held = new Set<number>();
  private checked = new Map<number, boolean>();

  constructor(
    private readonly store: Store,
    private readonly sink: string,
    private readonly windowMs = SINK_LEASE_WINDOW_MS,
    private readonly holder = processHolderId,
  ) {}

  private async ask(slot: number): Promise<boolean> {
    const known = this.checked.get(slot);
    if (known !== undefined) return known;
    const { acquired } = await acquireLease(this.store, `sink:${this.sink}`, String(slot), this.holder);
    this.checked.set(slot, acquired);
    if (acquired) this.held.add(slot);
    for (const s of this.checked.keys()) if (s < slot - 1) this.checked.delete(s);
    return acquired;
  }

  /** True while this process holds the sink's current slot (asking for it, or the next, as due). */
  async holds(now = Date.now()): Promise<boolean> {
    const slot = Math.floor(now / this.windowMs);
    const mine = await this.ask(slot);
    if (mine && now - slot * this.windowMs >= (this.windowMs * 2) / 3) await this.ask(slot + 1);
    return mine;
  }
}
