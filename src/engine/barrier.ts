/** Cluster barriers: a step marked `barrier: cluster` starts on no host until every live
 *  host of that cluster (among the play's hosts) has reached it. A host that fails, becomes
 *  unreachable or finishes leaves all barriers, so the others are never stuck waiting for it. */
export class Barriers {
  private waiting = new Map<string, { members: string[]; arrived: Set<string>; release: () => void; promise: Promise<void> }>();
  private gone = new Set<string>();

  /** Waits until every host of `members` has arrived at `key` or left. */
  async arrive(key: string, host: string, members: string[]): Promise<void> {
    let b = this.waiting.get(key);
    if (!b) {
      let release!: () => void;
      const promise = new Promise<void>((r) => (release = r));
      b = { members, arrived: new Set(), release, promise };
      this.waiting.set(key, b);
    }
    b.arrived.add(host);
    this.check(b);
    await b.promise;
  }

  leave(host: string): void {
    this.gone.add(host);
    for (const b of this.waiting.values()) this.check(b);
  }

  private check(b: { members: string[]; arrived: Set<string>; release: () => void }): void {
    if (b.members.every((h) => b.arrived.has(h) || this.gone.has(h))) b.release();
  }
}
