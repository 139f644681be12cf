/** Cluster rendezvous: a step marked `barrier: cluster` starts on no host until every live
 *  host of its cluster (among the play's hosts) has reached it, and a step may exchange a
 *  value with its cluster peers (e.g. the hash of a file that must be identical everywhere).
 *  A host that fails, becomes unreachable or finishes leaves, so no one waits for it. */
export class Barriers {
  private points = new Map<
    string,
    { members: string[]; values: Map<string, unknown>; release: () => void; promise: Promise<void> }
  >();
  private gone = new Set<string>();

  /** Waits until every host of `members` has arrived at `key` (or left); resolves with the
   *  values each arrived host brought. */
  async exchange<T>(key: string, host: string, members: string[], value?: T): Promise<Map<string, T>> {
    let p = this.points.get(key);
    if (!p) {
      let release!: () => void;
      const promise = new Promise<void>((r) => (release = r));
      p = { members, values: new Map(), release, promise };
      this.points.set(key, p);
    }
    p.values.set(host, value);
    this.check(p);
    await p.promise;
    return p.values as Map<string, T>;
  }

  async arrive(key: string, host: string, members: string[]): Promise<void> {
    await this.exchange(key, host, members);
  }

  leave(host: string): void {
    this.gone.add(host);
    for (const p of this.points.values()) this.check(p);
  }

  private check(p: { members: string[]; values: Map<string, unknown>; release: () => void }): void {
    if (p.members.every((h) => p.values.has(h) || this.gone.has(h))) p.release();
  }
}
