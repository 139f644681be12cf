/**
 * `backend: modern` on three real QEMU guests (multicast cluster link): the RAM-server topology
 * (node1 lends to node2 and node3), then `replicas: 2`, where each borrower mirrors its swap over
 * two lenders (md RAID1 of two NVMe/TCP namespaces). A lender is stopped while a workload has
 * pages on it: the workload's data still reads back intact; verify and doctor say the mirror
 * lost a leg; once the lender is back an apply re-adds it and the mirror resyncs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { guestOf, startGuest, stopGuest, waitForSsh, sshTarget } from '../../src/lab/index.ts';
import { cli, cliJson, explain } from './cli.ts';
import type { TestLab } from './helpers.ts';
import {
  modernInventory,
  modernStatusOf,
  startWorkload,
  waitWorkload,
  expectApplyChangesNothing,
} from './modern-helpers.ts';
import { labSuite } from './suite.ts';
import { labLimit } from '../helpers/machine.ts';

const SETTINGS = { topology: 'ram-server', lend_mb: 384 };

describe('modern backend on a three-node lab: RAM server, then two copies of every page', () => {
  const suite = labSuite('modern-three', { nodes: 3, backend: 'modern', memoryMb: 768 });
  const timings = suite.timings;
  let lab: TestLab;

  beforeAll(() => {
    lab = suite.lab();
  });

  const noChange = (inventory: string) => expectApplyChangesNothing(inventory, labLimit(900_000));

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
      // verify passes while md rebuilds the second copy (one full copy is there); then in sync
      let mirror = '';
      const bothInSync = () => (mirror.match(/\[2\/2\] \[UU\]\]/g) ?? []).length === 2;
      for (let i = 0; i < 60 && !bothInSync(); i++) {
        const v = await cli(['verify', '-i', inventory]);
        expect(v.code, v.stdout).toBe(0);
        mirror = v.stdout
          .split('\n')
          .filter((l) => l.includes('every page on two lenders'))
          .join('\n');
        await new Promise((r) => setTimeout(r, 10_000));
      }
      expect(bothInSync(), `both mirrors back in sync within 10 minutes:\n${mirror}`).toBe(true);
    }),
    labLimit(3_600_000),
  );
});
