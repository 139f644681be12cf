import type { Topology } from './model.ts';

/**
 * Remotification targets per node number.
 * - one-way: the lowest-numbered node borrows from the next-lowest (the HOW-TO's node 0 → node 1).
 * - symmetric: each node borrows from the next node number, wrapping around (2 nodes: 0 → 1, 1 → 0).
 * - ram-server: every node but the lowest-numbered borrows from the lowest-numbered one.
 * - no topology: only nodes with an explicit target borrow.
 * An explicit target always replaces the topology's choice for that node.
 *
 * replicas 2 (modern backend): a borrowing node also mirrors onto a second lender, chosen as the
 * first node after the first target in number order (wrapping around) that is neither the borrower
 * nor the first target. So in a 3-node ram-server cluster node 1 → [0, 2] and node 2 → [0, 1].
 * It needs at least 3 nodes; with fewer, borrowers keep their single target.
 */
export function computeTargets(
  numbers: readonly number[],
  topology: Topology | undefined,
  explicit: ReadonlyMap<number, number>,
  replicas: 1 | 2,
): Map<number, number[]> {
  const ring = [...new Set(numbers)].sort((a, b) => a - b);
  const first = new Map<number, number>();
  if (ring.length >= 2) {
    if (topology === 'one-way') first.set(ring[0], ring[1]);
    if (topology === 'symmetric') {
      for (const [i, n] of ring.entries()) first.set(n, ring[(i + 1) % ring.length]);
    }
    if (topology === 'ram-server') for (const n of ring.slice(1)) first.set(n, ring[0]);
  }
  for (const [n, t] of explicit) first.set(n, t);

  const targets = new Map<number, number[]>();
  for (const n of ring) {
    const t = first.get(n);
    if (t === undefined) {
      targets.set(n, []);
      continue;
    }
    const list = [t];
    if (replicas === 2) {
      const start = ring.indexOf(t);
      for (let step = 1; step < ring.length; step++) {
        const candidate = ring[(start + step) % ring.length];
        if (candidate !== n && candidate !== t) {
          list.push(candidate);
          break;
        }
      }
    }
    targets.set(n, list);
  }
  return targets;
}
