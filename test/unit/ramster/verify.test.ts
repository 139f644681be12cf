import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { LegacyCluster } from '../../../src/ramster/model.ts';
import { renderRamsterConf } from '../../../src/ramster/conf.ts';
import { PROBE_SCRIPT, parseProbe } from '../../../src/ramster/probe.ts';
import { verifyNode } from '../../../src/ramster/verify.ts';
import { framed } from '../../../src/frame.ts';
import { framesOf } from '../../helpers/frames.ts';
import { LocalTransport } from '../../../src/transport/local.ts';

const cluster: LegacyCluster = {
  name: 'ramster',
  group: 'lab',
  backend: 'legacy',
  ramster: {
    port: 7777,
    heartbeatDeadThreshold: 500,
    idleTimeoutMs: 1000000,
    keepaliveDelayMs: 2000,
    reconnectDelayMs: 2000,
  },
  topology: 'one-way',
  nodes: [
    { host: 'node1', hostname: 'system1', number: 0, clusterAddress: '10.0.0.1', targets: [1] },
    { host: 'node2', hostname: 'system2', number: 1, clusterAddress: '10.0.0.2', targets: [] },
  ],
};
const sha = createHash('sha256').update(renderRamsterConf(cluster)).digest('hex');

describe('verify', () => {
  it('on a RAMster node that is fully up, every check passes (probe text written from the reference strings)', () => {
    const probe = parseProbe(
      framesOf(`@kernel
3.10.0
@cmdline
BOOT_IMAGE=/vmlinuz root=/dev/sda1 zcache ramster
@kconfig
CONFIG_CLEANCACHE=y
CONFIG_FRONTSWAP=y
CONFIG_CONFIGFS_FS=y
CONFIG_ZCACHE=y
CONFIG_RAMSTER=y
@dmesg
[    1.0] ramster: r2net handlers registered
[   70.1] ramster: Connected to node system2 (num 1) at 10.0.0.2:7777
[   71.0] ramster: node 1 set as remotification target
@sysfs
/sys/kernel/mm/ramster/manual_node_up:0 1
/sys/kernel/mm/ramster/remote_target_nodenum:1
/sys/kernel/mm/ramster/pers_remotify_enable:1
/sys/kernel/mm/ramster/eph_remotify_enable:1
@dirs
/sys/kernel/mm/ramster
/sys/kernel/debug/ramster
/sys/kernel/debug/zcache
/sys/kernel/config/cluster
/sys/kernel/debug debugfs
@configfs
/sys/kernel/config/cluster/ramster/node/system1/local:1
@ctl_status
Checking RAMSTER cluster "ramster": Online
@counters
@conf_sha256
${sha}
@tools
/usr/sbin/ramster-ctl
@rclocal
3:if [ -d /sys/kernel/mm/ramster ] && /usr/sbin/ramster-ctl start; then
4:	echo 0 > /sys/kernel/mm/ramster/manual_node_up
@shutdown_unit
enabled
@hostname
system1.example.com
`),
    );
    const checks = verifyNode(cluster, cluster.nodes[0], probe);
    expect(checks.filter((c) => c.status !== 'pass').map((c) => `${c.id}: ${c.evidence}`)).toEqual([]);
    expect(checks.map((c) => c.id)).toEqual([
      'tools',
      'conf',
      'hostname',
      'debugfs',
      'cmdline',
      'rclocal',
      'shutdown',
      'kconfig',
      'dmesg',
      'sysfs',
      'online',
      'node-up',
      'conn-1',
      'target',
      'remotify',
    ]);
  });

  it('a target the kernel ignored fails with the reason, on a RAMster kernel', () => {
    const probe = parseProbe(
      framesOf(
        `@dirs\n/sys/kernel/mm/ramster\n@sysfs\n/sys/kernel/mm/ramster/manual_node_up:0\n/sys/kernel/mm/ramster/remote_target_nodenum:unset\n`,
      ),
    );
    const byId = Object.fromEntries(verifyNode(cluster, cluster.nodes[0], probe).map((c) => [c.id, c]));
    expect(byId.target).toMatchObject({ status: 'fail', evidence: 'remote_target_nodenum: unset' });
    expect(byId['node-up'].status).toBe('fail');
    expect(byId['node-up'].fix).toMatch(/nodes 1 up/);
  });

  it('on this machine (no RAMster kernel) kernel checks say they need one instead of failing', async () => {
    const f = framed(PROBE_SCRIPT);
    const r = await new LocalTransport().exec(f.script);
    expect(r.code).toBe(0);
    const probe = parseProbe(f.read(r.stdout));
    expect(probe.kernel).toMatch(/^\d+\.\d+/);
    const checks = verifyNode(cluster, cluster.nodes[0], probe);
    for (const id of ['kconfig', 'dmesg', 'sysfs', 'online', 'node-up', 'conn-1', 'target', 'remotify'])
      expect(checks.find((c) => c.id === id)!.status, id).toBe('needs-ramster-kernel');
    expect(checks.find((c) => c.id === 'conf')!.status).toBe('fail');
  });
});
