import { RAMSTER_CTL, RAMSTER_SYSFS, remoteTarget } from '../../ramster/heartbeat.ts';
import { run } from '../../transport/fileops.ts';
import { hostPath, shq } from '../../transport/types.ts';
import { defineStep, noChange } from '../types.ts';
import { ctl } from './bringup.ts';
import { hostCluster, isImageTarget } from './cluster.ts';

export type RamsterVerifyArgs = Record<string, never>;

export const NEEDS_KERNEL_CHECKS =
  'needs a RAMster kernel booted with `zcache ramster`: /sys/kernel/mm/ramster, cluster Online (ramster-ctl status), every node in manual_node_up, the remote target read back and remotify on are checked there; after the reboot, `ramster-provision verify` also checks the kernel options, dmesg and the debugfs counters';

/** Read-only: the live RAMster state of one node after the heartbeat stage. */
export const verifyStep = defineStep<RamsterVerifyArgs>({
  name: 'ramster_verify',
  description:
    'Read-only check of the live cluster on this node (kernel command line, /sys/kernel/mm/ramster, ramster-ctl status Online, every node marked up, remote target read back, remotify on); skipped with what it needs on a kernel without RAMster.',
  argsSchema: { type: 'object', additionalProperties: false, properties: {} },
  async checkApply(_args, ctx) {
    const { cluster, node } = hostCluster(ctx);
    const s = shq(hostPath(ctx.t, RAMSTER_SYSFS));
    const out = await run(
      ctx.t,
      `S=${s}
if [ ! -d "$S" ]; then echo nokernel; exit 0; fi
echo "cmdline=$(cat /proc/cmdline 2>/dev/null)"
for f in manual_node_up remote_target_nodenum pers_remotify_enable eph_remotify_enable; do echo "$f=$(cat "$S/$f" 2>/dev/null | tr '\\n' ' ')"; done
if [ -x ${shq(hostPath(ctx.t, RAMSTER_CTL))} ]; then ${ctl(ctx, node, 'status')} >/dev/null 2>&1; echo "status=$?"; else echo status=missing; fi`,
      'read RAMster state',
      undefined,
      ctx.timeoutMs,
    );
    if (out.trim() === 'nokernel') return { ...noChange('live RAMster checks skipped'), skipped: NEEDS_KERNEL_CHECKS };
    const kv = new Map(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()]));
    const fails: string[] = [];
    const cmdline = (kv.get('cmdline') ?? '').split(/\s+/);
    // A folder's /proc/cmdline would be the build machine's.
    if (!isImageTarget(ctx.t) && !(cmdline.includes('zcache') && cmdline.includes('ramster'))) fails.push(`/proc/cmdline lacks "zcache ramster" (fix: --tags grub, then reboot the cluster together)`);
    const status = kv.get('status');
    if (status !== '0') fails.push(status === 'missing' ? `${RAMSTER_CTL} is missing (fix: --tags tools)` : `ramster-ctl status: cluster not Online (exit ${status}; fix: --tags heartbeat)`);
    const up = (kv.get('manual_node_up') ?? '').split(/\s+/).filter(Boolean);
    const notUp = cluster.nodes.map((n) => String(n.number)).filter((n) => !up.includes(n));
    if (notUp.length) fails.push(`manual_node_up lacks node ${notUp.join(', ')} (reads "${up.join(' ')}"; fix: --tags heartbeat)`);
    const target = remoteTarget(cluster, node);
    if (target !== undefined) {
      const got = kv.get('remote_target_nodenum');
      if (got !== String(target)) fails.push(`remote_target_nodenum reads "${got}", expected ${target} (fix: --tags heartbeat)`);
      for (const f of ['pers_remotify_enable', 'eph_remotify_enable']) if (kv.get(f) !== '1') fails.push(`${f} reads "${kv.get(f)}", expected 1`);
    }
    if (fails.length) throw new Error(`node ${node.number} (${ctx.host}) is not a working RAMster node:\n  - ${fails.join('\n  - ')}`);
    return noChange(`node ${node.number}: cluster ${cluster.name} Online, nodes ${up.join(' ')} up${target !== undefined ? `, remote target node ${target}, remotify on` : ''}`);
  },
});
