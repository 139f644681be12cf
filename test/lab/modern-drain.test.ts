/**
 * Lender maintenance on two real QEMU guests (Debian 13 by default, `RAMSTER_MODERN_DISTROS`):
 * node1 (node 0, 512 MiB RAM) swaps onto node2's RAM. A workload on node1 writes checksummed
 * pages that go to node2. Then:
 * - refused: `drain` with no room on node1 (--reserve-mb beyond its memory: deterministic) fails
 *   naming the numbers, and changes nothing on either node; the `reboot` step on node2 is
 *   refused too while it lends, naming `drain`;
 * - `drain --limit node2`: the pages come home (node1's swap on node2 gone, disconnected),
 *   node2 stops lending, node2 reboots, `apply` lends again, node1 reconnects and swaps on it,
 *   the workload's pages go out to it again and every checksum passes, a second apply changes
 *   nothing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { guestOf, rebootGuest } from '../../src/lab/index.ts';
import { subsystemNqn } from '../../src/modern/plan.ts';
import { labLimit } from '../helpers/machine.ts';
import { changedSteps, cliJson, explain, hostOf } from './cli.ts';
import { onGuest, type TestLab } from './helpers.ts';
import {
  modernDistros,
  modernInventory,
  modernStatusOf,
  startWorkload,
  waitWorkload,
  type Workload,
  expectApplyChangesNothing,
} from './modern-helpers.ts';
import { labSuite } from './suite.ts';

const BORROWER = 'node1';
const LENDER = 'node2';
const SETTINGS = { topology: 'one-way', lend_mb: 768, zswap_compressor: 'lz4', zswap_max_pool_percent: 20 };
/** The workload: 200 MiB in a 64 MiB cgroup, so well over 100 MiB of it sits on node2. */
const WORKLOAD = { mib: 200, holdS: 7200, memoryMaxMb: 64 };
const SUB = subsystemNqn('ramster', 1, 0);

const DISTROS = modernDistros('trixie');

/** node1's swap devices, its controllers of node2's subsystem, node2's exports and lend mount. */
async function liveState(
  lab: TestLab,
): Promise<{ swaps: string; controllers: string; exports: string; lendMount: string }> {
  const b = await onGuest(
    lab.state,
    BORROWER,
    `echo "@swaps"; tail -n +2 /proc/swaps | awk '{ print $1, $4 }'; echo "@controllers"; for c in /sys/class/nvme/nvme*; do [ -d "$c" ] && [ "$(cat $c/subsysnqn)" = ${SUB} ] && echo "\${c##*/} $(cat $c/state)"; done; true`,
  );
  const l = await onGuest(
    lab.state,
    LENDER,
    'echo "@exports"; ls /sys/kernel/config/nvmet/subsystems 2>/dev/null; echo "@mount"; mountpoint -q /run/ramster-lend && echo mounted; true',
  );
  const section = (text: string, name: string) => (text.split(`@${name}\n`)[1] ?? '').split('@')[0].trim();
  return {
    swaps: section(b, 'swaps'),
    controllers: section(b, 'controllers'),
    exports: section(l, 'exports'),
    lendMount: section(l, 'mount'),
  };
}

/** The swap on node2 as /proc/swaps names it: the dm-crypt mapping over the namespace (the
 *  default), or the namespace itself with `encryption: none`. */
const REMOTE_SWAP = String.raw`/dev/(?:dm-\d+|nvme\dn\d)`;

/** kB node1 holds on its swap on node2. */
const remoteKb = (swaps: string) =>
  swaps
    .split('\n')
    .filter((l) => new RegExp(`^${REMOTE_SWAP} `).test(l))
    .reduce((s, l) => s + Number(l.split(' ')[1]), 0);

describe.each(DISTROS)('drain a lender under a workload (Debian %s)', (distro) => {
  const suite = labSuite(`modern-drain-${distro}`, { backend: 'modern', guestMemoryMb: [512, 1024], distro });
  const timings = suite.timings;
  let lab: TestLab;
  let inventory: string;
  let workload: Workload;

  beforeAll(() => {
    lab = suite.lab();
    inventory = modernInventory(lab, 'drain', SETTINGS);
  });

  it(
    'apply converges; a workload on node1 writes checksummed pages that sit on node2',
    timings.timed('applyAndWorkload', async () => {
      const apply = await cliJson(['apply', '-i', inventory], labLimit(900_000));
      expect(apply.code, explain(apply)).toBe(0);
      workload = await startWorkload(lab, BORROWER, WORKLOAD);
      await waitWorkload(lab, BORROWER, workload, /^written/m, labLimit(900_000));
      const status = await modernStatusOf(inventory);
      expect(status[BORROWER].remote_pages, JSON.stringify(status)).toBeGreaterThan(0);
      expect(status[LENDER].foreign_pages, JSON.stringify(status)).toBeGreaterThan(0);
      const live = await liveState(lab);
      expect(remoteKb(live.swaps), live.swaps).toBeGreaterThan(50 * 1024);
    }),
    labLimit(1_800_000),
  );

  it(
    'refused with no room on node1 (--reserve-mb beyond its memory), naming the numbers, nothing changed; the reboot step refuses node2 while it lends',
    timings.timed('refused', async () => {
      const before = await liveState(lab);
      const drain = await cliJson(
        ['drain', '-i', inventory, '--limit', LENDER, '--reserve-mb', '100000'],
        labLimit(900_000),
      );
      expect(drain.code, explain(drain)).toBe(3);
      const release = hostOf(drain.result, BORROWER).steps.find((s) => s.type === 'modern_release')!;
      expect(release.status).toBe('failed');
      expect(release.message).toMatch(
        new RegExp(
          `node1 has no room for its pages on node2: ${REMOTE_SWAP} holds \\d+ MiB, and MemAvailable \\d+ MiB \\+ other free swap \\d+ MiB - 100000 MiB kept free \\(--reserve-mb\\) = -\\d+ MiB: .*nothing was changed`,
        ),
      );
      // all or nothing: the lender's part is refused too, it keeps lending
      const lenderSteps = hostOf(drain.result, LENDER).steps;
      expect(lenderSteps.find((s) => s.type === 'modern_release')?.message).toMatch(/not drained: node1 refused/);
      expect(lenderSteps.find((s) => s.type === 'modern_unlend')).toBeUndefined();
      for (const h of drain.result.hosts) expect(changedSteps(h), h.host).toEqual([]);
      const after = await liveState(lab);
      expect(after.controllers).toMatch(/^nvme\d+ live$/);
      expect(after.controllers).toBe(before.controllers);
      expect(after.exports).toBe(before.exports);
      expect(after.exports).toContain(SUB);
      expect(remoteKb(after.swaps)).toBeGreaterThan(0);

      // a playbook that reboots node2 while it lends is refused, naming drain; node2 stays up
      const bootId = async () => (await onGuest(lab.state, LENDER, 'cat /proc/sys/kernel/random/boot_id')).trim();
      const id = await bootId();
      const pb = join(lab.dir, 'reboot-lender.yaml');
      writeFileSync(pb, '- hosts: node2\n  steps:\n    - name: reboot the lender\n      reboot: {}\n');
      const reboot = await cliJson(['apply', '-i', inventory, pb], labLimit(600_000));
      expect(reboot.code, explain(reboot)).toBe(3);
      const step = hostOf(reboot.result, LENDER).steps.find((s) => s.type === 'reboot')!;
      expect(step.message).toMatch(
        /node2 lends RAM to node 0 .*ramster-provision drain -i <inventory> --limit node2 first/,
      );
      expect(await bootId()).toBe(id);
    }),
    labLimit(1_800_000),
  );

  it(
    'drain node2: the pages come home (swapoff with progress, disconnect), node2 stops lending; node2 reboots; apply lends again; the pages go out again and every checksum passes; a second apply changes nothing',
    timings.timed('drainRebootApply', async () => {
      // the cgroup limit that pushed the pages out would push them back to swap (none other here):
      // the workload may use RAM again, as after any maintenance window
      await onGuest(lab.state, BORROWER, `systemctl set-property --runtime ${workload.unit} MemoryMax=infinity`);
      const before = await liveState(lab);
      const movedKb = remoteKb(before.swaps);
      timings.set('pagesOnLenderKb', movedKb);

      const drain = await cliJson(['drain', '-i', inventory, '--limit', LENDER], labLimit(1_800_000));
      expect(drain.code, explain(drain)).toBe(0);
      const release = hostOf(drain.result, BORROWER).steps.find((s) => s.type === 'modern_release')!;
      expect(release.status, explain(drain)).toBe('changed');
      expect(release.change?.summary).toMatch(
        new RegExp(`drain node2: swapoff ${REMOTE_SWAP} \\(\\d+ MiB home\\), disconnect nvme\\d+`),
      );
      expect(release.change?.summary).toMatch(new RegExp(`swap off ${REMOTE_SWAP}: \\d+ MiB home in \\d+ s`));
      timings.set('drainReleaseMs', release.durationMs);
      const unlend = hostOf(drain.result, LENDER).steps.find((s) => s.type === 'modern_unlend')!;
      expect(unlend.status, explain(drain)).toBe('changed');
      // the plain progress lines of a step still running after 10 s carry the swapoff's progress
      const progress = drain.stderr.split('\n').filter((l) => /swapoff \S+: \d+ of \d+ MiB still out/.test(l));
      timings.set('progressLines', progress.length);
      console.log(`drain: ${release.change?.summary} (${release.durationMs} ms); progress:\n${progress.join('\n')}`);
      if (release.durationMs > 40_000) expect(progress.length, drain.stderr).toBeGreaterThan(0);

      const drained = await liveState(lab);
      expect(remoteKb(drained.swaps), drained.swaps).toBe(0);
      expect(drained.swaps).not.toMatch(new RegExp(`^${REMOTE_SWAP} `, 'm'));
      expect(drained.controllers).toBe('');
      expect(drained.exports).not.toContain(SUB);
      expect(drained.lendMount).toBe('');
      expect((await onGuest(lab.state, BORROWER, `systemctl is-active ${workload.unit}`)).trim()).toBe('active');

      // node2 may reboot now (the reboot step agrees: it lends nothing)
      const r = await rebootGuest(lab.state, guestOf(lab.state, LENDER), { timeoutMs: labLimit(600_000) });
      expect(r.bootIdAfter).not.toBe(r.bootIdBefore);
      timings.set('lenderReboot', r.ms);

      const apply = await cliJson(['apply', '-i', inventory], labLimit(900_000));
      expect(apply.code, explain(apply)).toBe(0);
      expect(changedSteps(hostOf(apply.result, BORROWER)).map((s) => s.type)).toContain('modern_borrow');
      const back = await liveState(lab);
      expect(back.controllers).toMatch(/^nvme\d+ live$/);
      expect(back.swaps).toMatch(new RegExp(`^${REMOTE_SWAP} `, 'm'));
      expect(back.exports).toContain(SUB);

      // the workload's pages go out to the new lend, then it reads every page back
      await onGuest(
        lab.state,
        BORROWER,
        `systemctl set-property --runtime ${workload.unit} MemoryMax=${WORKLOAD.memoryMaxMb}M`,
      );
      await new Promise((r) => setTimeout(r, 20_000));
      const outAgain = await liveState(lab);
      expect(remoteKb(outAgain.swaps), outAgain.swaps).toBeGreaterThan(0);
      await onGuest(lab.state, BORROWER, `kill -USR1 "$(systemctl show -p MainPID --value ${workload.unit})"`);
      const result = await waitWorkload(lab, BORROWER, workload, /^(ok|BAD)/m, labLimit(1_200_000));
      expect(result).toMatch(/^ok /m);
      const errors = await onGuest(
        lab.state,
        BORROWER,
        "dmesg | grep -ciE 'error on swap-device|I/O error, dev nvme|Buffer I/O error on dev nvme' || true",
      );
      expect(errors.trim()).toBe('0');

      await expectApplyChangesNothing(inventory, labLimit(600_000));
    }),
    labLimit(3_600_000),
  );
});
