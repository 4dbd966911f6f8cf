// Tells in-process read caches when stored rows change other than by the writer's inserts: an
// ALTER (erasure's UPDATE, retention's DELETE, MATERIALIZE TTL, the views' re-attribution) or a
// larger piece of work that contains several (an erasure). While any such work runs, caches
// neither answer nor load, and they drop what they hold when it begins: a read then goes to the
// store, which is the truth. `epoch` changes at every begin and end, so a cache load that was in
// flight across a mutation is thrown away instead of installed (it may have read either state).
export class MutationGate {
  private active = 0;
  /** Bumped when a mutation begins and when it ends. */
  epoch = 0;
  private readonly listeners = new Set<() => void>();

  /** No mutation runs: caches may answer and load. */
  get open(): boolean {
    return this.active === 0;
  }

  /** Called (synchronously) whenever a mutation begins. */
  onBegin(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs `work` with caches closed (nesting is fine: the gate opens when the outermost ends). */
  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    this.active++;
    this.epoch++;
    for (const l of this.listeners) l();
    try {
      return await work();
    } finally {
      this.active--;
      this.epoch++;
    }
  }
}
