/**
 * Staging RAMster (Linux 3.10) on two sysvinit guests, the lifecycle (extended tier: three
 * reboots of 3.10 under TCG, ~40 min): after the boot-and-remotify cases
 * (ramster-kernel-cases.ts), a reboot of the node whose pages are remote (the shutdown ordering,
 * the boot path back into the cluster), then the symmetric topology by an inventory change.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { guestOf, rebootGuest } from '../../src/lab/index.ts';
import { changedSteps, cli, cliJson, explain, hostOf } from './cli.ts';
import {
  CLIENT,
  remotifyCases,
  SERVER,
  SERVER_MB,
  sh,
  status,
  verifyStrict,
  workloadGoesRemote,
} from './ramster-kernel-cases.ts';

describe('staging RAMster (Linux 3.10) on a two-node sysvinit lab: reboot and symmetric', () => {
  const { lab, timings } = remotifyCases('ramster-kernel-lifecycle', { workload: true });

  it(
    'reboot of the client with pages remote: swap comes home before the network goes down, rc.local brings it back into the cluster, verify passes, apply changes nothing',
    timings.timed('reboot', async () => {
      // Keep what fits in the client's RAM (so swapoff can bring it home), with pages still remote.
      await sh(lab(), CLIENT, 'truncate -s 128M /mnt/work/pages');
      const before = await status(lab());
      console.log(`[ramster-kernel] before the client's reboot: ${JSON.stringify(before.hosts)}`);
      expect(Number(before.hosts[CLIENT].remote_pers_pages), JSON.stringify(before)).toBeGreaterThan(0);
      const connects0 = (await sh(lab(), SERVER, 'dmesg'))
        .split('\n')
        .filter((l) => /ramster: Connected to node system1/.test(l)).length;
      const console0 = readFileSync(guestOf(lab().state, CLIENT).consoleLog, 'latin1').length;
      const r = await rebootGuest(lab().state, guestOf(lab().state, CLIENT), { timeoutMs: 900_000 });
      expect(r.bootIdAfter).not.toBe(r.bootIdBefore);
      // The shutdown ordering, from the guest's serial console (sysvinit prints each K script).
      const shutdown = readFileSync(guestOf(lab().state, CLIENT).consoleLog, 'latin1').slice(console0);
      const swapOff = shutdown.indexOf('Turning swap off before the network goes down (RAMster)');
      const netDown = shutdown.search(/Deconfiguring network interfaces/);
      expect(swapOff, shutdown.slice(-4000)).toBeGreaterThanOrEqual(0);
      expect(netDown, shutdown.slice(-4000)).toBeGreaterThan(swapOff);
      expect(shutdown, shutdown.slice(-4000)).not.toMatch(/swapoff failed|Kernel panic|BUG:|Oops/);
      // Pages went remote since boot: the cluster stays until the kernel stops (3.10's r2net
      // BUGs on a flush to a removed node).
      expect(shutdown, shutdown.slice(-4000)).toContain('RAMSTER cluster "ramster": kept; it stops with the kernel');
      // Back in the cluster from the boot path alone (the ramster init script and rc.local).
      for (let i = 0; i < 24; i++) {
        const v = await cli(['verify', '-i', lab().state.inventory, '--strict', '--json']);
        if (v.code === 0) break;
        await new Promise((res) => setTimeout(res, 5000));
      }
      const report = await verifyStrict(lab());
      expect(report.hosts[CLIENT].checks?.find((c) => c.id === 'conn-1')?.status).toBe('pass');
      // The survivor reconnected by itself (linux-3.10-ramster-reconnect-marked-up.patch).
      const connects = (await sh(lab(), SERVER, 'dmesg'))
        .split('\n')
        .filter((l) => /ramster: Connected to node system1/.test(l)).length;
      expect(connects).toBeGreaterThan(connects0);
      const again = await cliJson(['apply', '-i', lab().state.inventory]);
      expect(again.code, explain(again)).toBe(0);
      expect(again.result.totals.changed, explain(again)).toBe(0);
    }),
  );
  it(
    'symmetric: an inventory change makes node2 borrow from node1 too; apply converges it, verify passes, and a workload on node2 sends its pages to node1',
    timings.timed('symmetric', async () => {
      const text = readFileSync(lab().state.inventory, 'utf8');
      expect(text).toMatch(/topology: one-way/);
      const inventory = join(dirname(lab().state.inventory), 'inventory-symmetric.yaml');
      writeFileSync(inventory, text.replace('topology: one-way', 'topology: symmetric'));
      const apply = await cliJson(['apply', '-i', inventory]);
      expect(apply.code, explain(apply)).toBe(0);
      expect(changedSteps(hostOf(apply.result, SERVER)).length, explain(apply)).toBeGreaterThan(0);
      const again = await cliJson(['apply', '-i', inventory]);
      expect(again.code, explain(again)).toBe(0);
      expect(again.result.totals.changed, explain(again)).toBe(0);
      const report = await verifyStrict(lab(), inventory);
      expect(report.hosts[SERVER].checks?.map((c) => c.id)).toEqual(
        expect.arrayContaining(['target', 'remotify', 'conn-0']),
      );
      expect((await sh(lab(), SERVER, 'cat /sys/kernel/mm/ramster/remote_target_nodenum')).trim()).toBe('0');
      await workloadGoesRemote(lab(), inventory, SERVER, CLIENT, SERVER_MB + 128);
    }),
  );
});
