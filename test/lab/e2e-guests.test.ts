/**
 * End to end on two real QEMU guests, without the site playbook: ramster-ctl against the
 * kernel's configfs `cluster` ABI, the service and reboot steps on real systemd, and a guest
 * lost in the middle of an apply.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.ts';
import {
  guestOf,
  readBootId,
  sshRun,
  sshTarget,
  startGuest,
  stopGuest,
  waitForSsh,
  supervisorRunning,
} from '../../src/lab/index.ts';
import { LOCK_PATH } from '../../src/engine/hostlock.ts';
import { REPO_ROOT } from '../../src/guestimage/paths.ts';
import { renderRamsterConf } from '../../src/ramster/conf.ts';
import { renderDefaults } from '../../src/ramster/defaults.ts';
import { changedSteps, cliJson, explain, hostOf, parseRun, startCli } from './cli.ts';
import {
  activateSwapFile,
  describeEvents,
  ensurePersistentJournal,
  previousBootJournal,
  shutdownEvents,
} from './journal.ts';
import { onGuest, type TestLab } from './helpers.ts';
import { labSuite } from './suite.ts';
import { labLimit } from '../helpers/machine.ts';

const NODES = ['node1', 'node2'] as const;
const FIXTURES = join(REPO_ROOT, 'test', 'lab', 'fixtures');

describe('lab guests end to end: configfs, service + reboot, faults', () => {
  const suite = labSuite('e2e-guests');
  const timings = suite.timings;
  let lab: TestLab;

  beforeAll(() => {
    lab = suite.lab();
  });

  const put = async (node: string, path: string, text: string, mode: string) => {
    const r = await sshRun(
      sshTarget(lab.state, guestOf(lab.state, node)),
      `umask 022; mkdir -p "$(dirname ${path})"; cat > ${path}.new && chmod ${mode} ${path}.new && mv ${path}.new ${path}`,
      {
        input: text,
        timeoutMs: labLimit(60_000),
      },
    );
    expect(r.code, `${node}: writing ${path}: ${r.stderr}`).toBe(0);
  };

  /** Every attribute of the cluster's configfs tree as `relative/path=value`, sorted. */
  const readTree = (node: string) =>
    onGuest(
      lab.state,
      node,
      `cd /sys/kernel/config/cluster/ramster && for f in idle_timeout_ms keepalive_delay_ms reconnect_delay_ms heartbeat/dead_threshold node/*/num node/*/ipv4_address node/*/ipv4_port node/*/local; do
         [ -e "$f" ] && printf '%s=%s\\n' "$f" "$(cat "$f")"
       done | sort`,
    ).then((out) => out.trim().split('\n'));

  it(
    'configfs: ramster-ctl start builds the cluster tree in the kernel on both guests, status says Online, stop removes it',
    timings.timed('configfs', async () => {
      const inv = await loadInventory(lab.state.inventory);
      const cluster = inv.clusters[0];
      if (cluster.backend !== 'legacy') throw new Error('the lab cluster is legacy');
      const conf = renderRamsterConf(cluster);
      const ctl = readFileSync(join(REPO_ROOT, 'playbooks/files/ramster-tools/ramster-ctl'), 'utf8');
      await Promise.all(
        cluster.nodes.map(async (n) => {
          await put(n.host, '/usr/sbin/ramster-ctl', ctl, '0755');
          await put(n.host, '/etc/ramster.conf', conf, '0644');
          await put(n.host, '/etc/default/ramster', renderDefaults(cluster, n.number), '0644');
          // The stock kernel's o2nm is the `cluster` configfs ABI that RAMster copied.
          await onGuest(lab.state, n.host, 'modprobe ocfs2_nodemanager && grep -q "^ocfs2_nodemanager " /proc/modules');
        }),
      );
      for (const node of NODES) {
        expect(await onGuest(lab.state, node, 'ramster-ctl check')).toMatch(
          /\/etc\/ramster\.conf: OK: cluster "ramster", 2 nodes, this host is node \d/,
        );
      }

      // On a RAMster kernel a loaded o2nm owns the subsystem, so ramster-ctl refuses, touching nothing.
      const refused = await sshRun(
        sshTarget(lab.state, guestOf(lab.state, 'node1')),
        'ramster-ctl start; echo "exit=$?"; ls -A /sys/kernel/config/cluster',
      );
      expect(refused.stderr).toContain('ocfs2_nodemanager is loaded and owns the configfs cluster subsystem');
      expect(refused.stdout.trim()).toBe('exit=1');

      // Here o2nm IS the cluster ABI under test: ramster-ctl reads the module list from
      // RAMSTER_PROC, a view of the real /proc whose `modules` leaves o2nm out. configfs,
      // mounts and every write are the kernel's own.
      const PROC_VIEW = `mkdir -p /run/rp-proc && for f in mounts filesystems swaps; do ln -sfn /proc/$f /run/rp-proc/$f; done
        grep -v '^ocfs2_nodemanager ' /proc/modules > /run/rp-proc/modules; export RAMSTER_PROC=/run/rp-proc`;
      const ctlRun = (node: string, args: string) =>
        sshRun(sshTarget(lab.state, guestOf(lab.state, node)), `${PROC_VIEW}\nramster-ctl ${args}`, {
          timeoutMs: labLimit(60_000),
        });

      const started = await Promise.all(NODES.map((n) => ctlRun(n, '-v start')));
      for (const [i, r] of started.entries()) {
        expect(r.code, `${NODES[i]}: ${r.stderr}`).toBe(0);
        expect(r.stdout).toContain(`RAMSTER cluster "ramster": configured (this host is node ${i}, system${i + 1})`);
        // o2cb's order: port, address, number, then local.
        const writes = r.stderr
          .split('\n')
          .filter((l) => l.startsWith('+ write ') && l.includes(`/node/system1/`))
          .map((l) => l.split('/').pop()!.split(' ')[0]);
        expect(writes).toEqual(['ipv4_port', 'ipv4_address', 'num', 'local']);
      }

      for (const [i, node] of NODES.entries()) {
        expect(await readTree(node)).toEqual(
          [
            'heartbeat/dead_threshold=500',
            'idle_timeout_ms=1000000',
            'keepalive_delay_ms=2000',
            `node/system1/ipv4_address=10.99.0.11`,
            `node/system1/ipv4_port=7777`,
            `node/system1/local=${i === 0 ? 1 : 0}`,
            `node/system1/num=0`,
            `node/system2/ipv4_address=10.99.0.12`,
            `node/system2/ipv4_port=7777`,
            `node/system2/local=${i === 1 ? 1 : 0}`,
            `node/system2/num=1`,
            'reconnect_delay_ms=2000',
          ].sort(),
        );
        // local=1 made the kernel's o2net listen on this node's cluster address.
        expect(await onGuest(lab.state, node, 'ss -Hltn')).toContain(`10.99.0.1${i + 1}:7777`);
        const status = await ctlRun(node, 'status');
        expect(status.code, status.stderr).toBe(0);
        expect(status.stdout).toContain('Checking RAMSTER cluster "ramster": Online');
        expect(status.stdout).toContain('Heartbeat dead threshold: 500');
        expect(status.stdout).toContain('Network idle timeout: 1000000');
      }

      // A second start changes nothing (and its dry run says so).
      const before = await readTree('node1');
      const again = await ctlRun('node1', '-v start');
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain('already configured, nothing to change');
      expect(again.stderr).not.toMatch(/^\+ (write|mkdir)/m);
      expect((await ctlRun('node1', '-n start')).code).toBe(0);
      expect(await readTree('node1')).toEqual(before);

      for (const [i, node] of NODES.entries()) {
        const stop = await ctlRun(node, 'stop');
        expect(stop.code, stop.stderr).toBe(0);
        expect(stop.stdout).toContain('RAMSTER cluster "ramster": removed');
        expect((await onGuest(lab.state, node, 'ls -A /sys/kernel/config/cluster')).trim()).toBe('');
        const offline = await ctlRun(node, 'status');
        expect(offline.code).toBe(3);
        expect(offline.stdout).toContain('Checking RAMSTER cluster "ramster": Offline');
        expect(await onGuest(lab.state, node, 'ss -Hltn')).not.toContain(`10.99.0.1${i + 1}:7777`);
      }
    }),
  );

  it(
    'service and reboot steps on real systemd: unit enabled and active, reboot handler gives new boot_ids; second apply changes nothing',
    timings.timed('serviceAndReboot', async () => {
      // A swap file on node1 and a persistent journal: the shutdown of this reboot, with no
      // swap-off unit installed, is the baseline for the site playbook's ordering check.
      await activateSwapFile(lab.state, 'node1');
      await Promise.all(NODES.map((n) => ensurePersistentJournal(lab.state, n)));
      const bootBefore = await Promise.all(
        NODES.map((n) => onGuest(lab.state, n, 'cat /proc/sys/kernel/random/boot_id').then((s) => s.trim())),
      );

      const playbook = join(FIXTURES, 'service-reboot.yaml');
      const first = await cliJson(['apply', '-i', lab.state.inventory, playbook]);
      timings.set('serviceAndReboot.apply', first.ms);
      expect(first.code, explain(first)).toBe(0);
      for (const [i, node] of NODES.entries()) {
        const h = hostOf(first.result, node);
        expect(h.status).toBe('changed');
        expect(h.facts?.boot_id).toBe(bootBefore[i]);
        expect(changedSteps(h).map((s) => [s.step, s.handler])).toEqual([
          ['unit file', false],
          ['unit enabled and started', false],
          ['reboot', true],
        ]);
        expect(h.steps.find((s) => s.step === 'unit enabled and started')?.change?.summary).toBe(
          'service rp-lab-hello.service: daemon-reload, enable, start',
        );
      }

      for (const [i, node] of NODES.entries()) {
        const bootNow = (await onGuest(lab.state, node, 'cat /proc/sys/kernel/random/boot_id')).trim();
        expect(bootNow).toMatch(/^[0-9a-f-]{36}$/);
        expect(bootNow).not.toBe(bootBefore[i]);
        // Started by systemd at this boot, because it is enabled.
        expect((await onGuest(lab.state, node, 'cat /run/rp-lab-hello')).trim()).toBe(bootNow);
        expect(
          (
            await onGuest(
              lab.state,
              node,
              'systemctl is-enabled rp-lab-hello.service; systemctl is-active rp-lab-hello.service',
            )
          )
            .trim()
            .split('\n'),
        ).toEqual(['enabled', 'active']);
      }

      const second = await cliJson(['apply', '-i', lab.state.inventory, playbook]);
      expect(second.code, explain(second)).toBe(0);
      for (const node of NODES) {
        expect(hostOf(second.result, node).counts.changed, explain(second)).toBe(0);
        expect(hostOf(second.result, node).status).toBe('ok');
      }
      for (const node of NODES) {
        expect(hostOf(second.result, node).facts?.boot_id).toBe(
          (await onGuest(lab.state, node, 'cat /proc/sys/kernel/random/boot_id')).trim(),
        );
      }

      // Baseline: the journal of the boot that just ended shows the swap file deactivated
      // during the shutdown (the events the site playbook's ordering check compares exist).
      const ev = shutdownEvents(await previousBootJournal(lab.state, 'node1'), '/swapfile');
      console.log(`[e2e-guests] baseline shutdown without a swap-off unit: ${describeEvents(ev)}`);
      expect(ev.shutdownStart, describeEvents(ev)).toBeDefined();
      expect(ev.swapOff, describeEvents(ev)).toBeDefined();
      expect(ev.networkDown, describeEvents(ev)).toBeDefined();
      // Left to systemd, the swap goes last (swap.target stops after sysinit.target, long after
      // network.target): the ordering the site playbook's check asserts does not hold by itself.
      expect(ev.swapOff!.index, describeEvents(ev)).toBeGreaterThan(ev.networkDown!.index);
    }),
  );

  it(
    'faults: a guest stopped mid-apply is unreachable (exit 4) while the other converges; after a restart a re-run converges both',
    timings.timed('faults', async () => {
      const playbook = join(FIXTURES, 'slow-steps.yaml');
      const g2 = guestOf(lab.state, 'node2');
      const run = startCli(['apply', '-i', lab.state.inventory, playbook, '--json']);

      // Stop node2 while it is inside the slow step.
      const deadline = Date.now() + labLimit(120_000);
      for (;;) {
        const r = await sshRun(
          sshTarget(lab.state, g2),
          'pgrep -x sleep >/dev/null && test -f /var/lib/rp-lab-fault/first',
          {
            timeoutMs: labLimit(20_000),
          },
        );
        if (r.code === 0) break;
        if (Date.now() > deadline || run.exitCode !== null) throw new Error('node2 never reached the slow step');
        await new Promise((res) => setTimeout(res, 500));
      }
      await stopGuest(g2);
      expect(supervisorRunning(g2)).toBe(false);

      const r = await run;
      const faulted = { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), ms: 0 };
      const res = parseRun(faulted);
      expect(faulted.code, explain({ ...faulted, result: res })).toBe(4);
      const n2 = hostOf(res, 'node2');
      expect(n2.status).toBe('unreachable');
      expect(n2.counts.unreachable).toBe(1);
      expect(n2.error).toMatch(/connection to .* was lost|cannot connect/);
      expect(n2.steps.find((s) => s.step === 'last marker')).toBeUndefined();
      const n1 = hostOf(res, 'node1');
      expect(n1.status).toBe('changed');
      expect(n1.steps.map((s) => [s.step, s.status])).toEqual([
        ['first marker', 'changed'],
        ['slow step', 'changed'],
        ['last marker', 'changed'],
      ]);
      expect(res.totals).toMatchObject({ hosts: 2, unreachable: 1, failed: 0 });
      // The human recap (stderr with --json) says it too.
      expect(faulted.stderr).toMatch(/^node2\s+unreachable\s/m);
      expect(await onGuest(lab.state, 'node1', 'cat /var/lib/rp-lab-fault/last')).toBe('last');

      // Power node2 on again (a cold boot after the hard stop), then re-run.
      const bootStart = Date.now();
      await startGuest(lab.state, g2);
      await waitForSsh(sshTarget(lab.state, g2), {
        timeoutMs: labLimit(600_000),
        isAlive: () => supervisorRunning(g2),
      });
      timings.set('faults.restartGuest', Date.now() - bootStart);
      expect(await readBootId(sshTarget(lab.state, g2))).toMatch(/^[0-9a-f-]{36}$/);

      // What the crash left of the engine's host lock, for the failure message.
      const lockLeft = await onGuest(
        lab.state,
        'node2',
        `ls -la ${LOCK_PATH} 2>&1; echo "owner: $(cat ${LOCK_PATH} 2>&1)"`,
      );
      const rerun = await cliJson(['apply', '-i', lab.state.inventory, playbook]);
      expect(rerun.code, `${explain(rerun)}\nnode2's lock before the re-run:\n${lockLeft}`).toBe(0);
      expect(hostOf(rerun.result, 'node1').status).toBe('ok');
      expect(hostOf(rerun.result, 'node1').counts.changed).toBe(0);
      const again2 = hostOf(rerun.result, 'node2');
      expect(again2.status).toBe('changed');
      expect(again2.steps.find((s) => s.step === 'slow step')?.status).toBe('changed');
      for (const node of NODES) {
        expect(
          await onGuest(
            lab.state,
            node,
            'cat /var/lib/rp-lab-fault/first /var/lib/rp-lab-fault/last; test -f /var/lib/rp-lab-fault/slow && echo slow',
          ),
        ).toBe('first\nlast\nslow');
      }
    }),
  );
});
