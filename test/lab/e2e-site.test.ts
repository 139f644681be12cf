/**
 * playbooks/site.yaml (the RAMster HOW-TO) end to end on two real QEMU guests booting through
 * GRUB: plan on fresh guests, apply with the cluster reboot, verify, a no-op second apply, an
 * inventory change, and the shutdown ordering after a real reboot. The guests run Debian's
 * stock kernel, so checks that need a RAMster kernel are expected to say so.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import type { HostResult, RunResult } from '../../src/engine/result.ts';
import { guestOf, rebootGuest } from '../../src/lab/index.ts';
import { REPO_ROOT } from '../../src/guestimage/paths.ts';
import { loadPlaybook } from '../../src/playbook/load.ts';
import { loadInventory } from '../../src/inventory/load.ts';
import { renderRamsterConf } from '../../src/ramster/conf.ts';
import { changedSteps, cli, cliJson, explain, hostOf } from './cli.ts';
import {
  activateSwapFile,
  describeEvents,
  ensurePersistentJournal,
  previousBootJournal,
  shutdownEvents,
} from './journal.ts';
import { onGuest, type TestLab } from './helpers.ts';
import { labSuite } from './suite.ts';

const SITE = join(REPO_ROOT, 'playbooks', 'site.yaml');
const NODES = ['node1', 'node2'] as const;
const IDLE_BEFORE = 1_000_000;
const IDLE_AFTER = 900_000;

/** The `+`/`-` lines of a unified diff, without its file headers. */
const diffLines = (diff = '') => diff.split('\n').filter((l) => /^[+-]/.test(l) && !/^(\+\+\+|---) /.test(l));

const bootId = (node: string, lab: TestLab) =>
  onGuest(lab.state, node, 'cat /proc/sys/kernel/random/boot_id').then((s) => s.trim());

describe('playbooks/site.yaml on a two-node lab', () => {
  const suite = labSuite('e2e-site');
  const timings = suite.timings;
  let lab: TestLab;
  /** boot_ids of the fresh guests, before the apply's cluster reboot. */
  const freshBoot: Record<string, string> = {};
  let changedInventory = '';

  beforeAll(() => {
    lab = suite.lab();
  });

  it(
    'plan on fresh guests: exit 2, every site step listed for every host, file changes with their diffs, nothing changed',
    timings.timed('plan', async () => {
      const pb = await loadPlaybook(SITE);
      const plan = await cliJson(['plan', '-i', lab.state.inventory]);
      expect(plan.code, explain(plan)).toBe(2);
      expect(plan.result.mode).toBe('plan');
      for (const node of NODES) {
        const h = hostOf(plan.result, node);
        freshBoot[node] = h.facts!.boot_id;
        expect(h.status, explain(plan)).toBe('changed');
        // Every step of every play, in order (handlers run only when notified).
        const steps = h.steps.filter((s) => !s.handler);
        expect(steps.map((s) => s.step)).toEqual(pb.plays.flatMap((p) => p.steps.map((s) => s.name)));
        expect(
          steps.filter((s) => s.status === 'failed'),
          explain(plan),
        ).toEqual([]);
        // Skipped on these systemd guests with Debian's kernel: the SysV variants, the kernel
        // stage (the lab inventory names no kernel_source), and the live steps that need a
        // RAMster kernel, which say so.
        const skipped = steps.filter((x) => x.status === 'skipped');
        for (const s of skipped)
          expect(s.message, s.step).toMatch(
            /facts\.init_system == 'sysvinit'|defined\(kernel_source\)|needs a RAMster kernel|ramster\.backend == 'modern'/,
          );
        expect(skipped.filter((s) => /defined\(kernel_source\)/.test(s.message ?? '')).length).toBe(4);
        expect(skipped.filter((s) => /needs a RAMster kernel/.test(s.message ?? '')).map((s) => s.type)).toContain(
          'ramster_bringup',
        );
        // The verify stage cannot pass before the changes above are made: a dry run says so.
        const verify = steps.find((s) => s.type === 'ramster_verify');
        expect(verify?.change?.conditional ?? verify?.message, JSON.stringify(verify)).toMatch(
          /earlier pending changes|needs a RAMster kernel/,
        );
        // A change that writes a file shows it as a diff.
        const writes = changedSteps(h).filter((s) => !s.handler && s.type !== 'service' && s.type !== 'ramster_verify');
        expect(writes.length).toBeGreaterThanOrEqual(8);
        for (const s of writes)
          expect(diffLines(s.change?.diff).length, `${node} ${s.step}: ${JSON.stringify(s.change)}`).toBeGreaterThan(0);
        const byType = (t: string) => h.steps.find((s) => s.type === t)?.change?.diff ?? '';
        expect(diffLines(byType('grub_cmdline')).join('\n')).toMatch(
          /^\+GRUB_CMDLINE_LINUX=".*\bzcache ramster\b.*"$/m,
        );
        expect(diffLines(byType('ramster_conf'))).toEqual(
          expect.arrayContaining(['+cluster:', '+\tname = system1', '+\tname = system2', '+\tip_address = 10.99.0.11']),
        );
        expect(diffLines(byType('ramster_defaults'))).toContain(`+RAMSTER_IDLE_TIMEOUT_MS=${IDLE_BEFORE}`);
        // The cluster reboot is planned as the grub step's consequence.
        expect(h.steps.filter((s) => s.handler).map((s) => [s.step, s.status])).toEqual([
          ['reboot the cluster together', 'changed'],
        ]);
      }
      // A dry run touches nothing.
      for (const node of NODES) {
        expect(
          await onGuest(
            lab.state,
            node,
            'test -e /etc/ramster.conf || echo absent; grep -c "zcache ramster" /etc/default/grub || true',
          ),
        ).toBe('absent\n0');
      }
    }),
  );

  it(
    'apply converges (exit 0) through the cluster reboot: new boot_ids, /proc/cmdline has zcache ramster; verify passes all it can check here',
    timings.timed('applyAndReboot', async () => {
      expect(Object.keys(freshBoot), 'the plan case records the fresh boot_ids').toHaveLength(2);
      const apply = await cliJson(['apply', '-i', lab.state.inventory]);
      timings.set('applyAndReboot.apply', apply.ms);
      expect(apply.code, explain(apply)).toBe(0);
      for (const node of NODES) {
        const h = hostOf(apply.result, node);
        expect(h.status).toBe('changed');
        expect(h.facts?.boot_id).toBe(freshBoot[node]);
        expect(h.steps.find((s) => s.step === 'reboot the cluster together')?.status, explain(apply)).toBe('changed');
        // The playbook's own verify stage passed on the converged node, naming what needs a RAMster kernel.
        const verify = h.steps.find((s) => s.type === 'ramster_verify');
        expect(verify?.status, JSON.stringify(verify)).toBe('skipped');
        expect(verify?.message).toMatch(/\bonline\b.*needs a RAMster kernel/);
      }

      // grub: the barrier rebooted both nodes; the new kernel command line is live.
      const after = await Promise.all(NODES.map((n) => bootId(n, lab)));
      for (const [i, node] of NODES.entries()) {
        expect(after[i]).toMatch(/^[0-9a-f-]{36}$/);
        expect(after[i]).not.toBe(freshBoot[node]);
        expect(await onGuest(lab.state, node, 'cat /proc/cmdline')).toMatch(/(^|\s)zcache ramster(\s|$)/);
        // Byte-identical on every node: what the renderer makes of the inventory's cluster.
        const cluster = (await loadInventory(lab.state.inventory)).clusters[0];
        if (cluster.backend !== 'legacy') throw new Error('the lab cluster is legacy');
        const conf = renderRamsterConf(cluster);
        expect(await onGuest(lab.state, node, 'sha256sum < /etc/ramster.conf')).toBe(
          `${createHash('sha256').update(conf).digest('hex')}  -`,
        );
      }
      expect(
        await onGuest(
          lab.state,
          'node1',
          'systemctl is-enabled ramster.service ramster-swapoff.service; systemctl is-active ramster-swapoff.service',
        ),
      ).toBe('enabled\nenabled\nactive');

      const verifyStart = Date.now();
      const vj = await cli(['verify', '-i', lab.state.inventory, '--json']);
      expect(vj.code, vj.stdout + vj.stderr).toBe(0);
      const report = JSON.parse(vj.stdout) as {
        hosts: Record<
          string,
          { checks?: { id: string; title: string; status: string; evidence: string }[]; unreachable?: string }
        >;
      };
      for (const node of NODES) {
        const checks = report.hosts[node]?.checks ?? [];
        expect(checks.length, JSON.stringify(report.hosts[node])).toBeGreaterThan(3);
        expect(
          checks.filter((c) => c.status === 'fail'),
          JSON.stringify(checks, null, 2),
        ).toEqual([]);
        expect(checks.filter((c) => c.status === 'pass').length).toBeGreaterThan(0);
        // A stock Debian kernel: the RAMster-only checks say so instead of passing or failing.
        expect(checks.filter((c) => c.status === 'needs-ramster-kernel').length).toBeGreaterThan(0);
        const status = Object.fromEntries(checks.map((c) => [c.id, c.status]));
        expect(status, JSON.stringify(checks, null, 2)).toMatchObject({
          tools: 'pass',
          conf: 'pass',
          hostname: 'pass',
          debugfs: 'pass',
          cmdline: 'pass',
          rclocal: 'pass',
          shutdown: 'pass',
          online: 'needs-ramster-kernel',
        });
      }
      const vt = await cli(['verify', '-i', lab.state.inventory]);
      expect(vt.code, vt.stdout + vt.stderr).toBe(0);
      expect(vt.stdout).toMatch(/^PASS /m);
      expect(vt.stdout).toMatch(/^NEEDS RAMSTER KERNEL /m);
      expect(vt.stdout).toMatch(/\d+ passed, 0 failed, \d+ need a RAMster kernel \(/);
      timings.set('applyAndReboot.verify', Date.now() - verifyStart);
    }),
  );

  it(
    'second apply: changed == 0 on every host, no reboot',
    timings.timed('secondApply', async () => {
      const before = await Promise.all(NODES.map((n) => bootId(n, lab)));
      const again = await cliJson(['apply', '-i', lab.state.inventory]);
      expect(again.code, explain(again)).toBe(0);
      for (const node of NODES) {
        const h = hostOf(again.result, node);
        expect(h.counts.changed, explain(again)).toBe(0);
        expect(h.counts.failed).toBe(0);
        expect(h.status).toBe('ok');
      }
      expect(again.result.totals.changed).toBe(0);
      expect(await Promise.all(NODES.map((n) => bootId(n, lab)))).toEqual(before);
    }),
  );

  it(
    'an inventory change (idle timeout): plan shows exactly the settings-file diff (exit 2); apply; plan exit 0',
    timings.timed('inventoryChange', async () => {
      const doc = parse(readFileSync(lab.state.inventory, 'utf8'));
      expect(doc.all.children.lab.ramster.idle_timeout_ms).toBe(IDLE_BEFORE);
      doc.all.children.lab.ramster.idle_timeout_ms = IDLE_AFTER;
      changedInventory = join(lab.dir, 'inventory-idle.yaml');
      writeFileSync(changedInventory, stringify(doc));

      const plan = await cliJson(['plan', '-i', changedInventory]);
      expect(plan.code, explain(plan)).toBe(2);
      for (const node of NODES) {
        const changed = changedSteps(hostOf(plan.result, node));
        expect(
          changed.map((s) => s.type),
          explain(plan),
        ).toEqual(['ramster_defaults']);
        expect(diffLines(changed[0].change?.diff)).toEqual([
          `-RAMSTER_IDLE_TIMEOUT_MS=${IDLE_BEFORE}`,
          `+RAMSTER_IDLE_TIMEOUT_MS=${IDLE_AFTER}`,
        ]);
      }

      const apply = await cliJson(['apply', '-i', changedInventory]);
      expect(apply.code, explain(apply)).toBe(0);
      for (const node of NODES) {
        expect(changedSteps(hostOf(apply.result, node)).map((s) => s.type)).toEqual(['ramster_defaults']);
        expect(await onGuest(lab.state, node, 'grep ^RAMSTER_IDLE_TIMEOUT_MS= /etc/default/ramster')).toBe(
          `RAMSTER_IDLE_TIMEOUT_MS=${IDLE_AFTER}`,
        );
      }

      const noop = await cliJson(['plan', '-i', changedInventory]);
      expect(noop.code, explain(noop)).toBe(0);
      expect(noop.result.totals.changed).toBe(0);
    }),
  );

  it(
    "shutdown ordering: after a reboot, the previous boot's journal shows swap turned off before the network went down",
    timings.timed('shutdownOrdering', async () => {
      expect(changedInventory, 'the inventory-change case ran').not.toBe('');
      await Promise.all(
        NODES.map(async (n) => {
          await ensurePersistentJournal(lab.state, n);
          await activateSwapFile(lab.state, n);
        }),
      );
      const reboots = await Promise.all(NODES.map((n) => rebootGuest(lab.state, guestOf(lab.state, n))));
      timings.set('shutdownOrdering.reboot', Math.max(...reboots.map((r) => r.ms)));
      for (const [i, node] of NODES.entries()) {
        expect(reboots[i].bootIdAfter).not.toBe(reboots[i].bootIdBefore);
        const journal = await previousBootJournal(lab.state, node);
        const ev = shutdownEvents(journal, '/swapfile');
        console.log(`[e2e-site] ${node} shutdown: ${describeEvents(ev)}`);
        expect(ev.swapOff, describeEvents(ev)).toBeDefined();
        expect(ev.networkDown, describeEvents(ev)).toBeDefined();
        expect(ev.swapOff!.index, describeEvents(ev)).toBeLessThan(ev.networkDown!.index);
        expect(ev.swapOff!.usec).toBeLessThanOrEqual(ev.networkDown!.usec);
        // It was the site's unit that did it, while the network was still there.
        const unitStop = journal.find(
          (e) =>
            ev.shutdownStart &&
            e.index > ev.shutdownStart.index &&
            /^Stopping ramster-swapoff\.service/.test(e.message),
        );
        expect(unitStop, describeEvents(ev)).toBeDefined();
        expect(unitStop!.index).toBeLessThan(ev.swapOff!.index);
        // The boot parameters survive any reboot, and the node is still converged.
        expect(await onGuest(lab.state, node, 'cat /proc/cmdline')).toMatch(/(^|\s)zcache ramster(\s|$)/);
      }
      const plan = await cliJson(['plan', '-i', changedInventory]);
      expect(plan.code, explain(plan)).toBe(0);
      const hosts: HostResult[] = (plan.result as RunResult).hosts;
      expect(hosts.map((h) => [h.host, h.counts.changed])).toEqual([
        ['node1', 0],
        ['node2', 0],
      ]);
    }),
  );
});
