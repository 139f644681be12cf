/**
 * The legacy backend on a real RAMster kernel, shared by the two lab files on it:
 * `lab up --kernel ramster` boots two sysvinit guests on Debian's kernel; playbooks/site.yaml then
 * runs the HOW-TO's own kernel path (the 3.10 tree from ../shared/kernels, its gcc 12 patch and
 * ours, the 3.10 fragment merged and checked), built once per machine on the control machine
 * (cached by tree, patches and config), installed on both guests as GRUB's default, and the
 * cluster reboot boots staging RAMster. `remotifyCases` registers that apply, the no-op apply,
 * verify --strict, a workload beyond RAM whose pages go to the other node and read back intact,
 * and doctor on the real kernel lines.
 */
import { beforeAll, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { classifyDmesg } from '../../src/ramster/dmesg.ts';
import { changedSteps, cli, cliJson, explain, hostOf } from './cli.ts';
import { guestOf, sshRun, sshTarget } from '../../src/lab/index.ts';
import { onGuest, type TestLab } from './helpers.ts';
import { labSuite } from './suite.ts';
import type { CaseTimings } from './timing.ts';
import { labLimit } from '../helpers/machine.ts';

export const NODES = ['node1', 'node2'] as const;
/** one-way: node1 (number 0) swaps into node2 (number 1). */
export const CLIENT = 'node1';
export const SERVER = 'node2';
export const CLIENT_MB = 384;
export const SERVER_MB = 768;
/** The workload: more than the client's RAM, in compressible (so zcache takes them) but
 *  distinct pages: each 4 KiB page is its index, 1 KiB of seeded random bytes, then zeros.
 *  RAMster has no back-pressure: zcache keeps compressed pages in local RAM until the remotify
 *  worker has sent them, one page per network round trip (a few hundred per second under TCG,
 *  far fewer on a loaded host). Written at full speed, or at a fixed 4 MiB/s on a loaded host,
 *  the client's RAM filled with compressed pages faster than they left and the guest stopped
 *  answering. So the writer (at most 4 MiB/s) waits while zcache holds more than 4,096
 *  pageframes of swap pages beyond what it held at the start (another node's pages, on a node
 *  that is also a memory server), until remotify brings them under 2,048, and fails if that backlog
 *  does not move for STALL seconds: the pace is RAMster's, whatever the host's load. Reading
 *  back (swap-ins push other pages out) keeps the same pace. */
const WORK_MB = 512;
const WORKLOAD = `import hashlib, random, sys, time
STALL = 600
def pageframes():
    with open('/sys/kernel/debug/zcache/pers_pageframes') as f:
        return int(f.read())
# Relative to the start: on a node that is also a memory server, other nodes' pages count too.
BASE = pageframes()
HIGH, LOW = BASE + 4096, BASE + 2048
def wait_for_remotify():
    b = pageframes()
    if b <= HIGH:
        return
    last, since = b, time.monotonic()
    while b > LOW:
        time.sleep(0.25)
        b = pageframes()
        if b < last:
            last, since = b, time.monotonic()
        elif time.monotonic() - since > STALL:
            sys.exit('remotify made no progress for %d s: zcache holds %d pageframes of swap pages' % (STALL, b))
h = hashlib.sha256()
if sys.argv[1] == 'read':
    with open(sys.argv[2], 'rb') as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            wait_for_remotify()
else:
    with open(sys.argv[2], 'wb') as f:
        for i in range(int(sys.argv[3]) * 256):
            page = i.to_bytes(8, 'little') + random.Random(i).randbytes(1016) + bytes(3072)
            h.update(page)
            f.write(page)
            if i % 256 == 255:
                f.flush()
                time.sleep(0.25)
                wait_for_remotify()
print(h.hexdigest())
`;

export type Checks = { hosts: Record<string, { checks?: { id: string; status: string; evidence: string }[] }> };
type StatusRows = { hosts: Record<string, Record<string, string | number>> };

export const sh = (lab: TestLab, node: string, script: string, timeoutMs = 300_000) =>
  onGuest(lab.state, node, script, timeoutMs);

/**
 * Runs `command` in the guest detached from the SSH session and waits for it (polling every
 * 10 s): its stdout if it exits 0, else the error with its stderr. A guest busy writing beyond
 * its RAM under TCG can miss SSH keepalives for longer than a session survives (seen at load
 * 28: the workload's session ended with ssh's exit 255 while the guest went on, fine), so a
 * dropped poll is only retried; the guest going silent fails at `timeoutMs`.
 */
export async function inBackground(lab: TestLab, node: string, command: string, timeoutMs: number): Promise<string> {
  const job = `/root/job-${process.pid}-${Date.now()}`;
  await sh(
    lab,
    node,
    `setsid sh -c '${command} > ${job}.out 2> ${job}.err; echo $? > ${job}.rc' < /dev/null > /dev/null 2>&1 &`,
  );
  const target = sshTarget(lab.state, guestOf(lab.state, node));
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10_000));
    const r = await sshRun(target, `cat ${job}.rc 2>/dev/null`, { connectTimeoutS: 120, timeoutMs: 300_000 });
    if (r.code !== 0) {
      lastError = `poll: exit ${r.code} ${r.stderr.trim()}`;
      continue;
    }
    const rc = r.stdout.trim();
    if (rc === '') continue;
    const out = await sh(lab, node, `cat ${job}.out; rm -f ${job}.out ${job}.rc`);
    const err = await sh(lab, node, `cat ${job}.err; rm -f ${job}.err`);
    if (rc !== '0') throw new Error(`${node}: \`${command}\` failed (exit ${rc}): ${err.trim().slice(-2000)}`);
    return out;
  }
  throw new Error(`${node}: \`${command}\` did not finish within ${Math.round(timeoutMs / 1000)} s (${lastError})`);
}

/** A node that has just written beyond its RAM can take longer than the CLI's 10 s default to
 *  log in (seen: `status` found the writer unreachable at load 6-10, the node fine after). */
const BUSY_NODE = ['--connect-timeout', '120'];

/** `status`, asked again while a node does not answer (up to 5 times, 10 s apart). */
export async function status(lab: TestLab, inventory = lab.state.inventory): Promise<StatusRows> {
  let r = await cli(['status', '-i', inventory, '--json', ...BUSY_NODE]);
  for (let i = 0; i < 4 && r.code === 4; i++) {
    await new Promise((res) => setTimeout(res, 10_000));
    r = await cli(['status', '-i', inventory, '--json', ...BUSY_NODE]);
  }
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return JSON.parse(r.stdout) as StatusRows;
}

export async function verifyStrict(lab: TestLab, inventory = lab.state.inventory): Promise<Checks> {
  const r = await cli(['verify', '-i', inventory, '--strict', '--json', ...BUSY_NODE]);
  const report = JSON.parse(r.stdout) as Checks;
  const bad = Object.entries(report.hosts).flatMap(([h, v]) =>
    (v.checks ?? []).filter((c) => c.status !== 'pass').map((c) => `${h} ${c.id}: ${c.status} (${c.evidence})`),
  );
  expect(bad, r.stdout + r.stderr).toEqual([]);
  expect(r.code).toBe(0);
  return report;
}

/** Swap (a 1 GiB swapfile) on `client`, then `mb` MiB of checksummed pages in tmpfs: more than
 *  its RAM, so pages go through zcache to `server`; they must read back intact and `status`
 *  must show them on both sides. The pages stay (the reboot case reboots with them remote). */
export async function workloadGoesRemote(
  lab: TestLab,
  inventory: string,
  client: string,
  server: string,
  mb: number,
): Promise<void> {
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
  const written = (
    await inBackground(lab, client, `python3 /root/workload.py write /mnt/work/pages ${mb}`, labLimit(1_800_000))
  ).trim();
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
  const readBack = (
    await inBackground(lab, client, 'python3 /root/workload.py read /mnt/work/pages', labLimit(1_800_000))
  ).trim();
  expect(readBack).toBe(written);
  rows = await status(lab, inventory);
  console.log(`[ramster-kernel] ${client} after reading back: ${JSON.stringify(rows.hosts)}`);
  expect(Number(rows.hosts[client].remote_succ_get), JSON.stringify(rows)).toBeGreaterThan(0);
  expect(rows.hosts[client].cluster).toBe('Online');
  expect(rows.hosts[server].cluster).toBe('Online');
}

/** Boots the lab for suite `name` and registers its cases: the apply, the no-op apply, verify
 *  --strict and doctor, with the workload beyond RAM before doctor when `workload` is set; call
 *  inside the file's `describe`. Later cases of the file get the same lab and timings. */
export function remotifyCases(name: string, opts: { workload: boolean }): { lab: () => TestLab; timings: CaseTimings } {
  const suite = labSuite(name, { kernel: 'ramster', guestMemoryMb: [CLIENT_MB, SERVER_MB] });
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
        expect(changed, explain(apply)).toEqual(
          expect.arrayContaining(['kernel_build', 'grub_cmdline', 'reboot', 'ramster_conf', 'ramster_bringup']),
        );
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
      expect(readFileSync(join('/var/cache/ramster-provision/kernels', key, 'manifest'), 'utf8')).toMatch(
        /^release 3\.10\.72$/m,
      );
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
        expect(
          await sh(
            lab,
            node,
            'cat /sys/kernel/config/cluster/ramster/node/system1/num /sys/kernel/config/cluster/ramster/node/system2/num',
          ),
        ).toBe('0\n1');
        expect((await sh(lab, node, 'cat /sys/kernel/mm/ramster/manual_node_up')).trim().split(/\s+/).sort()).toEqual([
          '0',
          '1',
        ]);
      }
      expect(report.hosts[CLIENT].checks?.map((c) => c.id)).toEqual(
        expect.arrayContaining(['target', 'remotify', 'conn-1']),
      );
      expect((await sh(lab, CLIENT, 'cat /sys/kernel/mm/ramster/remote_target_nodenum')).trim()).toBe('1');
      expect(await sh(lab, CLIENT, 'cat /sys/kernel/mm/ramster/pers_remotify_enable')).toBe('1');
    }),
  );

  it.runIf(opts.workload)(
    "a workload beyond the client's RAM: pages go to the server (foreign_pages > 0 there, remote gets > 0 on the client) and read back intact",
    timings.timed('workload', () => workloadGoesRemote(lab, lab.state.inventory, CLIENT, SERVER, WORK_MB)),
  );

  it(
    'doctor classifies the real kernel lines of these runs: nothing serious, every ramster line known',
    timings.timed('doctor', async () => {
      const r = await cli(['doctor', '-i', lab.state.inventory, '--json', ...BUSY_NODE]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as {
        hosts: Record<string, { ramsterKernel: boolean; findings: { class: string; line: string }[] }>;
      };
      for (const node of NODES) {
        expect(out.hosts[node].ramsterKernel).toBe(true);
        expect(
          out.hosts[node].findings.filter((f) => f.class !== 'harmless' && f.class !== 'info'),
          r.stdout,
        ).toEqual([]);
        const dmesg = (await sh(lab, node, 'dmesg')).split('\n');
        const ramsterLines = dmesg.filter((l) => /\bramster\b|r2net|zcache/i.test(l));
        expect(ramsterLines.length).toBeGreaterThan(3);
        const known = new Set(classifyDmesg(dmesg).map((f) => f.line));
        const unknown = ramsterLines.filter(
          (l) => /ramster: (Connected|Accepted|node \d+ set as)/.test(l) && !known.has(l),
        );
        expect(unknown, ramsterLines.join('\n')).toEqual([]);
      }
    }),
  );

  return { lab: () => lab, timings };
}
