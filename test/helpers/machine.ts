/** Limits for tests whose work takes as long as this machine makes it (make on a kernel tree,
 *  mmdebstrap, dpkg, containers, sshd, a CLI run): they are there to catch a hang, never a slow
 *  machine. A 2-core machine at load 50 gives a process about 1/25 of a core, so a limit is the
 *  work's time on an idle machine times SLOWDOWN (40; RAMSTER_TEST_SLOWDOWN sets another).
 *  Where a test checks that something did NOT wait (a timeout fired, an error was not waited
 *  out), it compares against the wait it avoided instead, which no machine speed changes. */
export const SLOWDOWN = Number(process.env.RAMSTER_TEST_SLOWDOWN) || 40;

/** The limit for work that takes `idleMs` on an idle machine, and never under 10 minutes. */
export function machineLimit(idleMs: number): number {
  return Math.max(600_000, idleMs * SLOWDOWN);
}

/** Tests of a file that build on what an earlier test of it made (a .config, an installed
 *  package, a key): the earlier test calls `made(what)` at its end, a later one starts with
 *  `needs(what)`. When the earlier one failed or was filtered out, the later one fails saying
 *  which output it is missing and why, instead of with ENOENT on the file. */
export function testChain() {
  const made = new Set<string>();
  return {
    made: (what: string) => void made.add(what),
    needs: (...what: string[]) => {
      const missing = what.filter((w) => !made.has(w));
      if (missing.length) {
        throw new Error(
          `this test builds on ${missing.join(' and ')}, made by an earlier test of this file that did not pass (see its failure above, or run it too)`,
        );
      }
    },
  };
}

/** The lab tier (QEMU guests under TCG, test/lab) sets its limits for a quiet machine with a few
 *  times headroom; they are stretched by LAB_SLOWDOWN (8; RAMSTER_LAB_SLOWDOWN sets another) for
 *  a loaded one: at load 10 the main job's apply took 6x its quiet time (508 s against 85 s). */
export const LAB_SLOWDOWN = Number(process.env.RAMSTER_LAB_SLOWDOWN) || 8;

export function labLimit(quietLimitMs: number): number {
  return quietLimitMs * LAB_SLOWDOWN;
}
