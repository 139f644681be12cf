/**
 * Staging RAMster (Linux 3.10) as a RAM server (extended tier): three sysvinit guests, the
 * inventory's `topology: ram-server` makes node1 (number 0, 768 MiB) the memory server of
 * node2 and node3 (384 MiB each). One apply builds (or reuses) the kernel and boots all three
 * into it; both clients then write beyond their RAM at once, and their pages meet on node1.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { changedSteps, cliJson, explain, hostOf } from './cli.ts';
import { sh, status, verifyStrict, workloadGoesRemote } from './ramster-kernel-cases.ts';
import { labSuite } from './suite.ts';
import type { TestLab } from './helpers.ts';

const SERVER = 'node1';
const CLIENTS = ['node2', 'node3'] as const;
const NODES = [SERVER, ...CLIENTS];

describe('staging RAMster (Linux 3.10) on three sysvinit guests: one RAM server, two clients', () => {
  const suite = labSuite('ramster-kernel-three', { kernel: 'ramster', nodes: 3, guestMemoryMb: [768, 384, 384] });
  const timings = suite.timings;
  let lab: TestLab;
  let inventory: string;

  beforeAll(() => {
    lab = suite.lab();
    const text = readFileSync(lab.state.inventory, 'utf8');
    expect(text).toMatch(/topology: one-way/);
    inventory = join(dirname(lab.state.inventory), 'inventory-ram-server.yaml');
    writeFileSync(inventory, text.replace('topology: one-way', 'topology: ram-server'));
  });

  it(
    'apply boots all three into RAMster; a second apply changes nothing; verify --strict passes; both clients target node1',
    timings.timed('apply', async () => {
      const apply = await cliJson(['apply', '-i', inventory], 5_400_000);
      expect(apply.code, explain(apply)).toBe(0);
      for (const node of NODES) {
        expect(
          changedSteps(hostOf(apply.result, node)).map((s) => s.type),
          explain(apply),
        ).toEqual(expect.arrayContaining(['kernel_build', 'reboot', 'ramster_bringup']));
        expect(await sh(lab, node, 'uname -r')).toBe('3.10.72');
      }
      const again = await cliJson(['apply', '-i', inventory]);
      expect(again.code, explain(again)).toBe(0);
      expect(again.result.totals.changed, explain(again)).toBe(0);
      const report = await verifyStrict(lab, inventory);
      for (const client of CLIENTS) {
        expect(report.hosts[client].checks?.map((c) => c.id)).toEqual(
          expect.arrayContaining(['target', 'remotify', 'conn-0']),
        );
        expect((await sh(lab, client, 'cat /sys/kernel/mm/ramster/remote_target_nodenum')).trim()).toBe('0');
      }
    }),
  );

  it(
    'both clients write beyond their RAM at once: their pages go to node1 and read back intact',
    timings.timed('workloads', async () => {
      await Promise.all(CLIENTS.map((client) => workloadGoesRemote(lab, inventory, client, SERVER, 512)));
      const rows = await status(lab, inventory);
      console.log(`[ramster-kernel-three] after both workloads: ${JSON.stringify(rows.hosts)}`);
      for (const client of CLIENTS)
        expect(Number(rows.hosts[client].remote_succ_get), JSON.stringify(rows)).toBeGreaterThan(0);
    }),
  );
});
