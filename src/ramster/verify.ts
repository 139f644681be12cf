import { createHash } from 'node:crypto';
import type { ClusterNode } from '../cluster/model.ts';
import type { LegacyCluster } from './model.ts';
import { renderRamsterConf } from './conf.ts';
import type { Probe } from './probe.ts';

export type CheckStatus = 'pass' | 'fail' | 'needs-ramster-kernel';

export interface Check {
  id: string;
  title: string;
  status: CheckStatus;
  /** What was seen on the host. */
  evidence: string;
  /** How to fix a failure. */
  fix?: string;
}

export const NEEDS_KERNEL_NOTE =
  'needs a RAMster kernel (Linux 3.4-3.10 built with kconfig/ramster-*.config) booted with "zcache ramster"; this host runs a kernel without RAMster';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

const isRamsterKernel = (p: Probe) =>
  p.dirs.split('\n').includes('/sys/kernel/mm/ramster') || /^CONFIG_RAMSTER=y$/m.test(p.kconfig);

/** Records one check: pass, fail, or (a kernel check on a kernel without RAMster) needs-ramster-kernel. */
type AddCheck = (id: string, title: string, ok: boolean, evidence: string, fix: string, needsKernel?: boolean) => void;

/** Pass/fail with evidence for one node, from its probe output (see probe.ts). */
export function verifyNode(cluster: LegacyCluster, node: ClusterNode, p: Probe): Check[] {
  const checks: Check[] = [];
  const ramsterKernel = isRamsterKernel(p);
  const add: AddCheck = (id, title, ok, evidence, fix, needsKernel = false) =>
    checks.push({
      id,
      title,
      status: ok ? 'pass' : needsKernel && !ramsterKernel ? 'needs-ramster-kernel' : 'fail',
      evidence: evidence || '(nothing)',
      fix: ok ? undefined : needsKernel && !ramsterKernel ? NEEDS_KERNEL_NOTE : fix,
    });
  userlandChecks(add, cluster, node, p);
  kernelChecks(add, cluster, p, ramsterKernel);
  clusterChecks(add, cluster, node, p);
  return checks;
}

/** Userland and configuration: true on any kernel once the playbook ran. */
function userlandChecks(add: AddCheck, cluster: LegacyCluster, node: ClusterNode, p: Probe): void {
  add('tools', 'ramster-ctl installed', p.tools !== '', p.tools, 'run: ramster-provision apply --tags tools');
  const want = sha256(renderRamsterConf(cluster));
  add(
    'conf',
    '/etc/ramster.conf is the one rendered from the inventory',
    p.conf_sha256 === want,
    p.conf_sha256 ? `sha256 ${p.conf_sha256.slice(0, 16)}…, expected ${want.slice(0, 16)}…` : 'missing',
    'run: ramster-provision apply --tags conf',
  );
  const hostOk = p.hostname === node.hostname || p.hostname.split('.')[0] === node.hostname.split('.')[0];
  add(
    'hostname',
    `hostname matches the node name ${node.hostname}`,
    hostOk,
    p.hostname,
    'run: ramster-provision apply --tags preflight with set_hostname: true, or fix `hostname:` in the inventory',
  );
  add(
    'debugfs',
    'debugfs mounted at /sys/kernel/debug',
    /\/sys\/kernel\/debug debugfs/.test(p.dirs),
    p.dirs
      .split('\n')
      .filter((l) => l.includes(' '))
      .join('; '),
    'run: ramster-provision apply --tags preflight',
  );
  const tokens = p.cmdline.split(/\s+/);
  add(
    'cmdline',
    'kernel command line has "zcache ramster"',
    tokens.includes('zcache') && tokens.includes('ramster'),
    p.cmdline,
    'run: ramster-provision apply --tags grub (it reboots the cluster together)',
  );
  add(
    'rclocal',
    '/etc/rc.local starts the cluster and marks nodes up',
    /ramster-ctl start/.test(p.rclocal) && /manual_node_up/.test(p.rclocal),
    p.rclocal.split('\n')[0] ?? '',
    'run: ramster-provision apply --tags heartbeat',
  );
  add(
    'shutdown',
    'swap is turned off before the network goes down at shutdown',
    /enabled|^K/m.test(p.shutdown_unit),
    p.shutdown_unit,
    'run: ramster-provision apply --tags shutdown',
  );
}

/** The kernel's own: only a RAMster kernel can pass these. */
function kernelChecks(add: AddCheck, cluster: LegacyCluster, p: Probe, ramsterKernel: boolean): void {
  const dirs = p.dirs.split('\n');
  const k = (sym: string) => new RegExp(`^CONFIG_${sym}=y$`, 'm').test(p.kconfig);
  add(
    'kconfig',
    'kernel built with CONFIG_RAMSTER=y, CONFIG_CONFIGFS_FS=y, frontswap/cleancache',
    k('RAMSTER') && k('CONFIGFS_FS') && (k('FRONTSWAP') || k('CLEANCACHE')),
    p.kconfig
      .split('\n')
      .filter((l) => /RAMSTER|CONFIGFS/.test(l))
      .join('; '),
    'build and install the kernel: ramster-provision apply --tags kernel',
    true,
  );
  add(
    'dmesg',
    'dmesg has "ramster:" lines',
    /ramster:/.test(p.dmesg),
    p.dmesg.split('\n').find((l) => /ramster:/.test(l)) ?? '',
    'boot with "zcache ramster" on the kernel command line',
    true,
  );
  add(
    'sysfs',
    '/sys/kernel/mm/ramster and the debugfs counters exist',
    dirs.includes('/sys/kernel/mm/ramster') && dirs.includes('/sys/kernel/debug/ramster'),
    dirs.filter((d) => d.startsWith('/')).join(' '),
    'boot with "zcache ramster"; mount debugfs',
    true,
  );
  const online = /Online/.test(p.ctl_status) || /\/node\/[^/]+\/local:1$/m.test(p.configfs);
  add(
    'online',
    `cluster "${cluster.name}" Online`,
    online && ramsterKernel,
    p.ctl_status.split('\n').find((l) => /cluster/i.test(l)) ?? '',
    'run: ramster-ctl start (or the heartbeat stage)',
    true,
  );
}

/** The cluster as this node sees it: nodes up, connections, its target and remotify. */
function clusterChecks(add: AddCheck, cluster: LegacyCluster, node: ClusterNode, p: Probe): void {
  const ramsterKernel = isRamsterKernel(p);
  const up = (p.sysfs.match(/manual_node_up:(.*)$/m)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  const missingUp = cluster.nodes.filter((n) => !up.includes(n.number)).map((n) => n.number);
  add(
    'node-up',
    'every node marked up (manual_node_up)',
    ramsterKernel && missingUp.length === 0,
    `manual_node_up: ${up.join(' ') || '(none)'}`,
    `mark nodes ${missingUp.join(' ')} up on every node at about the same time (heartbeat stage)`,
    true,
  );
  for (const peer of cluster.nodes.filter((n) => n.number !== node.number)) {
    const re = new RegExp(`(Accepted connection from|Connected to) node \\S+ \\(num ${peer.number}\\)`);
    add(
      `conn-${peer.number}`,
      `connected to node ${peer.number} (${peer.hostname})`,
      re.test(p.dmesg),
      p.dmesg
        .split('\n')
        .filter((l) => l.includes(`num ${peer.number}`))
        .slice(-1)[0] ?? '',
      'see `ramster-provision doctor`: reboot the cluster together if the connection gave up',
      true,
    );
  }
  const target = node.targets[0];
  if (target !== undefined) {
    const read = p.sysfs.match(/remote_target_nodenum:(.*)$/m)?.[1]?.trim() ?? '';
    add(
      'target',
      `remote target reads back ${target}`,
      read === String(target),
      `remote_target_nodenum: ${read || '(absent)'}`,
      `node ${target} must be up before the target is set: run the heartbeat stage again`,
      true,
    );
    const on = (n: string) => p.sysfs.match(new RegExp(`${n}:(.*)$`, 'm'))?.[1]?.trim() === '1';
    add(
      'remotify',
      'pers_remotify_enable and eph_remotify_enable are 1',
      on('pers_remotify_enable') && on('eph_remotify_enable'),
      p.sysfs
        .split('\n')
        .filter((l) => l.includes('remotify'))
        .join('; '),
      'run the heartbeat stage (after the node-up lines)',
      true,
    );
  }
}
