/**
 * The legacy backend on a real RAMster kernel: `lab up --kernel ramster` boots two sysvinit
 * guests on Debian's kernel; playbooks/site.yaml then runs the HOW-TO's own kernel path (the
 * 3.10 tree from ../shared/kernels, its gcc 12 patch and ours, the 3.10 fragment merged and
 * checked), built once per machine on the control machine (cached by tree, patches and config),
 * installed on both guests as GRUB's default, and the cluster reboot boots staging RAMster.
 * Then: verify --strict, cluster Online through RAMster's configfs, a workload beyond RAM whose
 * pages go to the other node and read back intact, doctor on the real kernel lines, and a reboot
 * of the node whose pages are remote.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { guestOf, rebootGuest } from '../../src/lab/index.ts';
import { classifyDmesg } from '../../src/ramster/dmesg.ts';
import { changedSteps, cli, cliJson, explain, hostOf } from './cli.ts';
import { onGuest, type TestLab } from './helpers.ts';
import { labSuite } from './suite.ts';

const NODES = ['node1', 'node2'] as const;
/** one-way: node1 (number 0) swaps into node2 (number 1). */
const CLIENT = 'node1';
const SERVER = 'node2';
const CLIENT_MB = 384;
const SERVER_MB = 768;
/** The workload: more than the client's RAM, in compressible (so zcache takes them) but
 *  distinct pages: each 4 KiB page is its index, 1 KiB of seeded random bytes, then zeros.
 *  Written at most 4 MiB/s: RAMster's remotify worker sends one page per network round trip
 *  (a few hundred per second under TCG); written at full speed, the client's RAM filled with
 *  compressed pages faster than they left and the guest stopped answering. */
const WORK_MB = 512;
const WORKLOAD = `import hashlib, random, sys, time
n = int(sys.argv[2]) * 256
h = hashlib.sha256()
with open(sys.argv[1], 'wb') as f:
    for i in range(n):
        page = i.to_bytes(8, 'little') + random.Random(i).randbytes(1016) + bytes(3072)
        h.update(page)
        f.write(page)
        if i % 256 == 255:
            f.flush()
            time.sleep(0.25)
print(h.hexdigest())
`;

type Checks = { hosts: Record<string, { checks?: { id: string; status: string; evidence: string }[] }> };
type StatusRows = { hosts: Record<string, Record<string, string | number>> };

const sh = (lab: TestLab, node: string, script: string, timeoutMs = 300_000) => onGuest(lab.state, node, script, timeoutMs);

async function status(lab: TestLab, inventory = lab.state.inventory): Promise<StatusRows> {
  const r = await cli(['status', '-i', inventory, '--json']);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return JSON.parse(r.stdout) as StatusRows;
}

async function verifyStrict(lab: TestLab, inventory = lab.state.inventory): Promise<Checks> {
  const r = await cli(['verify', '-i', inventory, '--strict', '--json']);
  const report = JSON.parse(r.stdout) as Checks;
  const bad = Object.entries(report.hosts).flatMap(([h, v]) => (v.checks ?? []).filter((c) => c.status !== 'pass').map((c) => `${h} ${c.id}: ${c.status} (${c.evidence})`));
  expect(bad, r.stdout + r.stderr).toEqual([]);
  expect(r.code).toBe(0);
  return report;
}

/** Swap (a 1 GiB swapfile) on `client`, then `mb` MiB of checksummed pages in tmpfs: more than
 *  its RAM, so pages go through zcache to `server`; they must read back intact and `status`
 *  must show them on both sides. The pages stay (the reboot case reboots with them remote). */
async function workloadGoesRemote(lab: TestLab, inventory: string, client: string, server: string, mb: number): Promise<void> {
  await sh(lab, server, 'dmesg -n 5');
  await sh(
    lab,
    client,
    // Kernel errors and warnings, with their call traces, reach the serial console of both
    // nodes (kept in each guest's console.log), so a node that stops answering still says why.
    `set -e
dmesg -n 5
if ! grep -q '^/swapfile ' /proc/swaps; then
  [ -f /swapfile ] || { dd if=/dev/zero of=/swapfile bs=1M count=1024 status=none; chmod 600 /swapfile; mkswap /swapfile >/dev/null; }
  swapon /swapfile
fi
mkdir -p /mnt/work
mountpoint -q /mnt/work || mount -t tmpfs -o size=2g tmpfs /mnt/work
cat > /root/workload.py <<'EOF'
${WORKLOAD}EOF`,
  );
  const written = (await sh(lab, client, `python3 /root/workload.py /mnt/work/pages ${mb}`, 1_800_000)).trim();
  expect(written).toMatch(/^[0-9a-f]{64}$/);
  // The remotify worker runs every second; give it time to move the compressed pages.
  let rows = await status(lab, inventory);
  for (let i = 0; i < 60 && !(Number(rows.hosts[server].foreign_pages) > 0); i++) {
    await new Promise((r) => setTimeout(r, 5000));
    rows = await status(lab, inventory);
  }
  console.log(`[ramster-kernel] ${client} after writing ${mb} MiB: ${JSON.stringify(rows.hosts)}`);
  expect(Number(rows.hosts[server].foreign_pages), JSON.stringify(rows)).toBeGreaterThan(0);
  expect(Number(rows.hosts[client].pages_remoted), JSON.stringify(rows)).toBeGreaterThan(0);
  const readBack = (await sh(lab, client, 'sha256sum < /mnt/work/pages', 1_800_000)).split(' ')[0];
  expect(readBack).toBe(written);
  rows = await status(lab, inventory);
  console.log(`[ramster-kernel] ${client} after reading back: ${JSON.stringify(rows.hosts)}`);
  expect(Number(rows.hosts[client].remote_succ_get), JSON.stringify(rows)).toBeGreaterThan(0);
  expect(rows.hosts[client].cluster).toBe('Online');
  expect(rows.hosts[server].cluster).toBe('Online');
}

describe('staging RAMster (Linux 3.10) on a two-node sysvinit lab', () => {
  const suite = labSuite('ramster-kernel', { kernel: 'ramster', guestMemoryMb: [CLIENT_MB, SERVER_MB] });
  const timings = suite.timings;
  let lab: TestLab;

  beforeAll(() => {
    lab = suite.lab();
  });

  it(
    'apply: the kernel stage builds 3.10 on the control machine (once per machine), installs it as the default entry, the cluster reboots into it, and the cluster comes up',
    timings.timed('apply', async () => {
      for (const node of NODES) expect(await sh(lab, node, 'cat /proc/1/comm; uname -r')).toMatch(/^init\n6\./);
      const apply = await cliJson(['apply', '-i', lab.state.inventory], 5_400_000);
      expect(apply.code, explain(apply)).toBe(0);
      for (const node of NODES) {
        const h = hostOf(apply.result, node);
        const changed = changedSteps(h).map((s) => s.type);
        // kconfig changes only the first time on this machine (the tree's .config is cached too).
        expect(changed, explain(apply)).toEqual(expect.arrayContaining(['kernel_build', 'grub_cmdline', 'reboot', 'ramster_conf', 'ramster_bringup']));
        const build = h.steps.find((s) => s.type === 'kernel_build');
        expect(build?.change?.summary, JSON.stringify(build)).toMatch(/install kernel .*default boot entry/);
        // The playbook's own verify stage ran on the new kernel and passed.
        expect(h.steps.find((s) => s.type === 'ramster_verify')?.status, explain(apply)).toBe('ok');
      }
      for (const node of NODES) {
        expect(await sh(lab, node, 'uname -r; cat /proc/1/comm')).toBe('3.10.72\ninit');
        expect(await sh(lab, node, 'cat /proc/cmdline')).toMatch(/(^|\s)zcache ramster(\s|$)/);
      }
      // The package stays cached on the control machine under its build key: the next lab (or
      // CI run) on this machine installs it without building.
      const key = (await sh(lab, CLIENT, 'sed -n s/^key=//p /var/lib/ramster-provision/kernel.key')).trim();
      expect(key).toMatch(/^[0-9a-f]{16}$/);
      expect(readFileSync(join('/var/cache/ramster-provision/kernels', key, 'manifest'), 'utf8')).toMatch(/^release 3\.10\.72$/m);
    }),
  );

  it(
    'second apply: changed == 0, no reboot',
    timings.timed('secondApply', async () => {
      const before = await Promise.all(NODES.map((n) => sh(lab, n, 'cat /proc/sys/kernel/random/boot_id')));
      const again = await cliJson(['apply', '-i', lab.state.inventory]);
      expect(again.code, explain(again)).toBe(0);
      expect(again.result.totals.changed, explain(again)).toBe(0);
      expect(await Promise.all(NODES.map((n) => sh(lab, n, 'cat /proc/sys/kernel/random/boot_id')))).toEqual(before);
    }),
  );

  it(
    'verify --strict passes every check, the kernel ones included; RAMster configfs shows the cluster Online, every node up, the target read back, remotify on',
    timings.timed('verify', async () => {
      const report = await verifyStrict(lab);
      for (const node of NODES) {
        const ids = (report.hosts[node].checks ?? []).map((c) => c.id);
        expect(ids).toEqual(expect.arrayContaining(['kconfig', 'dmesg', 'sysfs', 'online', 'node-up']));
        expect(await sh(lab, node, 'ramster-ctl status')).toMatch(/Online/);
        expect(await sh(lab, node, 'cat /sys/kernel/config/cluster/ramster/node/system1/num /sys/kernel/config/cluster/ramster/node/system2/num')).toBe('0\n1');
        expect((await sh(lab, node, 'cat /sys/kernel/mm/ramster/manual_node_up')).trim().split(/\s+/).sort()).toEqual(['0', '1']);
      }
      expect(report.hosts[CLIENT].checks?.map((c) => c.id)).toEqual(expect.arrayContaining(['target', 'remotify', 'conn-1']));
      expect((await sh(lab, CLIENT, 'cat /sys/kernel/mm/ramster/remote_target_nodenum')).trim()).toBe('1');
      expect(await sh(lab, CLIENT, 'cat /sys/kernel/mm/ramster/pers_remotify_enable')).toBe('1');
    }),
  );

  it(
    'a workload beyond the client\'s RAM: pages go to the server (foreign_pages > 0 there, remote gets > 0 on the client) and read back intact',
    timings.timed('workload', () => workloadGoesRemote(lab, lab.state.inventory, CLIENT, SERVER, WORK_MB)),
  );

  it(
    'doctor classifies the real kernel lines of these runs: nothing serious, every ramster line known',
    timings.timed('doctor', async () => {
      const r = await cli(['doctor', '-i', lab.state.inventory, '--json']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { hosts: Record<string, { ramsterKernel: boolean; findings: { class: string; line: string }[] }> };
      for (const node of NODES) {
        expect(out.hosts[node].ramsterKernel).toBe(true);
        expect(out.hosts[node].findings.filter((f) => f.class !== 'harmless' && f.class !== 'info'), r.stdout).toEqual([]);
        const dmesg = (await sh(lab, node, 'dmesg')).split('\n');
        const ramsterLines = dmesg.filter((l) => /\bramster\b|r2net|zcache/i.test(l));
        expect(ramsterLines.length).toBeGreaterThan(3);
        const known = new Set(classifyDmesg(dmesg).map((f) => f.line));
        const unknown = ramsterLines.filter((l) => /ramster: (Connected|Accepted|node \d+ set as)/.test(l) && !known.has(l));
        expect(unknown, ramsterLines.join('\n')).toEqual([]);
      }
    }),
  );

  it(
    'reboot of the client with pages remote: swap comes home before the network goes down, rc.local brings it back into the cluster, verify passes, apply changes nothing',
    timings.timed('reboot', async () => {
      // Keep what fits in the client's RAM (so swapoff can bring it home), with pages still remote.
      await sh(lab, CLIENT, 'truncate -s 128M /mnt/work/pages');
      const before = await status(lab);
      console.log(`[ramster-kernel] before the client's reboot: ${JSON.stringify(before.hosts)}`);
      expect(Number(before.hosts[CLIENT].remote_pers_pages), JSON.stringify(before)).toBeGreaterThan(0);
      const connects0 = (await sh(lab, SERVER, 'dmesg')).split('\n').filter((l) => /ramster: Connected to node system1/.test(l)).length;
      const console0 = readFileSync(guestOf(lab.state, CLIENT).consoleLog, 'latin1').length;
      const r = await rebootGuest(lab.state, guestOf(lab.state, CLIENT), { timeoutMs: 900_000 });
      expect(r.bootIdAfter).not.toBe(r.bootIdBefore);
      // The shutdown ordering, from the guest's serial console (sysvinit prints each K script).
      const shutdown = readFileSync(guestOf(lab.state, CLIENT).consoleLog, 'latin1').slice(console0);
      const swapOff = shutdown.indexOf('Turning swap off before the network goes down (RAMster)');
      const netDown = shutdown.search(/Deconfiguring network interfaces/);
      expect(swapOff, shutdown.slice(-4000)).toBeGreaterThanOrEqual(0);
      expect(netDown, shutdown.slice(-4000)).toBeGreaterThan(swapOff);
      expect(shutdown, shutdown.slice(-4000)).not.toMatch(/swapoff failed|Kernel panic|BUG:|Oops/);
      // Pages went remote since boot: the cluster stays until the kernel stops (3.10's r2net
      // BUGs on a flush to a removed node).
      expect(shutdown, shutdown.slice(-4000)).toContain('RAMSTER cluster "ramster": kept; it stops with the kernel');
      // Back in the cluster from the boot path alone (the ramster init script and rc.local).
      let report: Checks | undefined;
      for (let i = 0; i < 24; i++) {
        const v = await cli(['verify', '-i', lab.state.inventory, '--strict', '--json']);
        if (v.code === 0) break;
        await new Promise((res) => setTimeout(res, 5000));
      }
      report = await verifyStrict(lab);
      expect(report.hosts[CLIENT].checks?.find((c) => c.id === 'conn-1')?.status).toBe('pass');
      // The survivor reconnected by itself (linux-3.10-ramster-reconnect-marked-up.patch).
      const connects = (await sh(lab, SERVER, 'dmesg')).split('\n').filter((l) => /ramster: Connected to node system1/.test(l)).length;
      expect(connects).toBeGreaterThan(connects0);
      const again = await cliJson(['apply', '-i', lab.state.inventory]);
      expect(again.code, explain(again)).toBe(0);
      expect(again.result.totals.changed, explain(again)).toBe(0);
    }),
  );
  it(
    'symmetric: an inventory change makes node2 borrow from node1 too; apply converges it, verify passes, and a workload on node2 sends its pages to node1',
    timings.timed('symmetric', async () => {
      const text = readFileSync(lab.state.inventory, 'utf8');
      expect(text).toMatch(/topology: one-way/);
      const inventory = join(dirname(lab.state.inventory), 'inventory-symmetric.yaml');
      writeFileSync(inventory, text.replace('topology: one-way', 'topology: symmetric'));
      const apply = await cliJson(['apply', '-i', inventory]);
      expect(apply.code, explain(apply)).toBe(0);
      expect(changedSteps(hostOf(apply.result, SERVER)).length, explain(apply)).toBeGreaterThan(0);
      const again = await cliJson(['apply', '-i', inventory]);
      expect(again.code, explain(again)).toBe(0);
      expect(again.result.totals.changed, explain(again)).toBe(0);
      const report = await verifyStrict(lab, inventory);
      expect(report.hosts[SERVER].checks?.map((c) => c.id)).toEqual(expect.arrayContaining(['target', 'remotify', 'conn-0']));
      expect((await sh(lab, SERVER, 'cat /sys/kernel/mm/ramster/remote_target_nodenum')).trim()).toBe('0');
      await workloadGoesRemote(lab, inventory, SERVER, CLIENT, SERVER_MB + 128);
    }),
  );
});

