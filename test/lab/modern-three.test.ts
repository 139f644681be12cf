/**
 * `backend: modern` on three real QEMU guests (Debian 13 by default, `RAMSTER_MODERN_DISTROS`;
 * multicast cluster link): the RAM-server topology (node1 lends to node2 and node3), then
 * `replicas: 2`, where each borrower mirrors its swap over
 * two lenders (md RAID1 of two NVMe/TCP namespaces). A lender is stopped while a workload has
 * pages on it: the workload's data still reads back intact; verify and doctor say the mirror
 * lost a leg; once the lender is back an apply re-adds it and the mirror resyncs. Then the same
 * lender is drained for maintenance under a workload (its leg failed and removed, the swap
 * staying on, dm-crypt above the mirror), rebooted, and re-added by apply.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { guestOf, rebootGuest, startGuest, stopGuest, waitForSsh, sshTarget } from '../../src/lab/index.ts';
import { changedSteps, cli, cliJson, explain, hostOf } from './cli.ts';
import { onGuest, type TestLab } from './helpers.ts';
import {
  modernDistros,
  modernInventory,
  modernStatusOf,
  startWorkload,
  waitWorkload,
  expectApplyChangesNothing,
} from './modern-helpers.ts';
import { labSuite } from './suite.ts';
import { labLimit } from '../helpers/machine.ts';

const SETTINGS = { topology: 'ram-server', lend_mb: 384 };

describe.each(modernDistros('trixie'))(
  'modern backend on a three-node lab (Debian %s): RAM server, then two copies of every page',
  (distro) => {
    const suite = labSuite(`modern-three-${distro}`, { nodes: 3, backend: 'modern', memoryMb: 768, distro });
    const timings = suite.timings;
    let lab: TestLab;

    beforeAll(() => {
      lab = suite.lab();
    });

    const noChange = (inventory: string) => expectApplyChangesNothing(inventory, labLimit(900_000));

    /** verify passes while md rebuilds the second copy (one full copy is there); then both
     *  borrowers' mirrors are in sync again, within 10 minutes of polls. */
    const expectMirrorsResync = async (inventory: string) => {
      let mirror = '';
      const bothInSync = () => (mirror.match(/\[2\/2\] \[UU\]\]/g) ?? []).length === 2;
      for (let i = 0; i < 60 && !bothInSync(); i++) {
        const v = await cli(['verify', '-i', inventory]);
        expect(v.code, v.stdout).toBe(0);
        mirror = v.stdout
          .split('\n')
          .filter((l) => l.includes('every page on two lenders'))
          .join('\n');
        if (!bothInSync()) await new Promise((r) => setTimeout(r, 10_000));
      }
      expect(bothInSync(), `both mirrors back in sync within 10 minutes:\n${mirror}`).toBe(true);
    };

    it(
      'ram-server: node1 lends to node2 and node3; converges, verify passes, a second apply changes nothing',
      timings.timed('ramServer', async () => {
        const inventory = modernInventory(lab, 'ram-server', SETTINGS);
        const apply = await cliJson(['apply', '-i', inventory], labLimit(1_200_000));
        expect(apply.code, explain(apply)).toBe(0);
        const verify = await cli(['verify', '-i', inventory]);
        expect(verify.code, verify.stdout + verify.stderr).toBe(0);
        const status = await modernStatusOf(inventory);
        expect(status.node1.role).toBe('lends to node2+node3');
        expect(status.node2.role).toBe('borrows from node1');
        expect(status.node3.role).toBe('borrows from node1');
        await noChange(inventory);
      }),
      labLimit(2_400_000),
    );

    it(
      'replicas 2: each borrower moves its swap onto a RAID1 of two lenders; verify passes with both legs in sync',
      timings.timed('replicas', async () => {
        const inventory = modernInventory(lab, 'replicas', { ...SETTINGS, replicas: 2 });
        const apply = await cliJson(['apply', '-i', inventory], labLimit(1_200_000));
        expect(apply.code, explain(apply)).toBe(0);
        const verify = await cli(['verify', '-i', inventory]);
        expect(verify.code, verify.stdout + verify.stderr).toBe(0);
        expect(verify.stdout).toMatch(
          /PASS {2}every page on two lenders \(\/dev\/md\/ramster-swap\) {2}\[md\d+ \[2\/2\] \[UU\]\]/,
        );
        const status = await modernStatusOf(inventory);
        expect(status.node2.role).toBe('borrows from node1+node3, lends to node3');
        expect(status.node3.role).toBe('borrows from node1+node2, lends to node2');
        await noChange(inventory);
      }),
      labLimit(2_400_000),
    );

    it(
      'a lender stopped while a workload has pages on it: the data still reads back intact; verify and doctor name the lost leg; back and applied, the mirror resyncs',
      timings.timed('lenderLost', async () => {
        const inventory = modernInventory(lab, 'replicas', { ...SETTINGS, replicas: 2 });
        const w = await startWorkload(lab, 'node2', { mib: 320, holdS: 60, memoryMaxMb: 128 });
        await waitWorkload(lab, 'node2', w, /^written/m, labLimit(900_000));
        expect((await modernStatusOf(inventory)).node3.foreign_pages).toBeGreaterThan(0);

        const node3 = guestOf(lab.state, 'node3');
        await stopGuest(node3);
        const out = await waitWorkload(lab, 'node2', w, /^(ok|BAD)/m, labLimit(1_200_000));
        expect(out).toMatch(/^ok /m);

        const verify = await cli(['verify', '-i', inventory, '--limit', 'node2']);
        expect(verify.code).not.toBe(0);
        expect(verify.stdout).toMatch(/FAIL {2}every page on two lenders .*\[2\/1\]/);
        const doctor = await cli(['doctor', '-i', inventory, '--limit', 'node2']);
        expect(doctor.stdout).toMatch(/mirror lost one lender|every page on two lenders/);

        await startGuest(lab.state, node3);
        await waitForSsh(sshTarget(lab.state, node3), { timeoutMs: labLimit(600_000) });
        const apply = await cliJson(['apply', '-i', inventory], labLimit(1_200_000));
        expect(apply.code, explain(apply)).toBe(0);
        await expectMirrorsResync(inventory);
      }),
      labLimit(3_600_000),
    );

    it(
      'replicas 2, drain node3 under a workload: dm-crypt sits above the mirror; the leg on node3 is failed and removed while the swap stays on; node3 reboots; the data reads back intact; apply re-adds the leg, md resyncs, a second apply changes nothing',
      timings.timed('drainLeg', async () => {
        const inventory = modernInventory(lab, 'replicas', { ...SETTINGS, replicas: 2 });
        const verify = await cli(['verify', '-i', inventory, '--limit', 'node2']);
        expect(verify.code, verify.stdout).toBe(0);
        // encryption sits above the mirror: the one mapping covers both lenders' copies
        for (const lender of ['node1', 'node3'])
          expect(verify.stdout).toMatch(
            new RegExp(
              `PASS {2}pages to ${lender} \\(node \\d\\) leave encrypted .*swap on /dev/mapper/ramster-swap-crypt \\(aes-xts-plain64\\) over md\\d+`,
            ),
          );

        const w = await startWorkload(lab, 'node2', { mib: 320, holdS: 7200, memoryMaxMb: 128, unit: 'leg-workload' });
        await waitWorkload(lab, 'node2', w, /^written/m, labLimit(900_000));
        expect((await modernStatusOf(inventory)).node3.foreign_pages).toBeGreaterThan(0);
        const swapsBefore = await onGuest(lab.state, 'node2', 'cat /proc/swaps');

        const drain = await cliJson(['drain', '-i', inventory, '--limit', 'node3'], labLimit(1_800_000));
        expect(drain.code, explain(drain)).toBe(0);
        const release = hostOf(drain.result, 'node2').steps.find((s) => s.type === 'modern_release')!;
        expect(release.status, explain(drain)).toBe('changed');
        expect(release.change?.summary).toMatch(
          /drain node3: fail and remove leg \/dev\/nvme\dn\d of \/dev\/md\d+ \(degraded until apply\), disconnect nvme\d+/,
        );
        expect(release.change?.summary).not.toMatch(/swapoff/);
        expect(changedSteps(hostOf(drain.result, 'node3')).map((s) => s.type)).toContain('modern_unlend');
        const degraded = await onGuest(lab.state, 'node2', 'cat /proc/mdstat; echo @swaps; cat /proc/swaps');
        expect(degraded).toMatch(/\[2\/1\] \[U_\]|\[2\/1\] \[_U\]/);
        // the swap never went off: the same device (/proc/swaps names the dm-crypt mapping dm-N),
        // still holding the workload's pages
        const cryptSwap = (swaps: string) =>
          swaps.split('\n').find((l) => /^\/dev\/dm-\d+\s/.test(l)) ?? '(no swap on dm-crypt)';
        expect(cryptSwap(degraded)).toMatch(/^\S+\s+partition\s+\d+\s+[1-9]\d*/);
        expect(cryptSwap(degraded).split(/\s+/)[0]).toBe(cryptSwap(swapsBefore).split(/\s+/)[0]);

        const r = await rebootGuest(lab.state, guestOf(lab.state, 'node3'), { timeoutMs: labLimit(600_000) });
        expect(r.bootIdAfter).not.toBe(r.bootIdBefore);
        await onGuest(lab.state, 'node2', `kill -USR1 "$(systemctl show -p MainPID --value ${w.unit})"`);
        const out = await waitWorkload(lab, 'node2', w, /^(ok|BAD)/m, labLimit(1_200_000));
        expect(out).toMatch(/^ok /m);

        const apply = await cliJson(['apply', '-i', inventory], labLimit(1_200_000));
        expect(apply.code, explain(apply)).toBe(0);
        expect(changedSteps(hostOf(apply.result, 'node2')).map((s) => s.type)).toContain('modern_borrow');
        await expectMirrorsResync(inventory);
        await noChange(inventory);
      }),
      labLimit(3_600_000),
    );
  },
);
