import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { renderRamsterConf } from '../../../../src/ramster/conf.ts';
import { renderDefaults } from '../../../../src/ramster/defaults.ts';
import { bringupStep, NEEDS_RAMSTER_KERNEL, peerConnections } from '../../../../src/steps/ramster/bringup.ts';
import { hostLegacyCluster } from '../../../../src/steps/ramster/cluster.ts';
import type { Change, ClusterPeers } from '../../../../src/steps/types.ts';
import { LocalTransport } from '../../../../src/transport/local.ts';
import { snapshot, tempRoot } from '../helpers.ts';
import { Barriers, clusterHosts, peers, ramsterCtx } from './fixtures.ts';

const ctlSource = new URL('../../../../playbooks/files/ramster-tools/ramster-ctl', import.meta.url).pathname;

describe('connection state from dmesg', () => {
  const line = (what: string, n: number) => `[  12.0] ramster: ${what} node node${n} (num ${n}) at 10.0.0.1${n}:7777`;
  it('a peer is connected when its last message is a connection', () => {
    const log = [
      line('Accepted connection from', 1),
      line('Connected to', 2),
      line('No longer connected to', 2),
      line('No longer connected to', 3),
      line('Connected to', 3),
    ].join('\n');
    expect(peerConnections(log, [1, 2, 3, 4])).toEqual({ connected: [1, 3], gaveUp: [] });
  });
  it('"No connection established ... giving up" marks a peer lost for good', () => {
    expect(
      peerConnections('[ 99.1] No connection established with node 2 after 30.0 seconds, giving up.', [1, 2]),
    ).toEqual({
      connected: [],
      gaveUp: [2],
    });
  });
});

let base: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir: base, cleanup } = await tempRoot('rp-bringup-')));
afterEach(() => cleanup());

const members = ['host0', 'host1'];
const vars = clusterHosts(2, 'one-way'); // node 0 borrows from node 1

type Result = PromiseSettledResult<Change>;
/** Runs the step on every node side by side, as the engine does, meeting at real Barriers. */
async function runAll(
  roots: string[],
  apply: boolean,
  args: Record<string, unknown> | ((i: number) => Record<string, unknown>) = {},
  wrap?: (p: ClusterPeers, host: string) => ClusterPeers,
): Promise<Result[]> {
  const barriers = new Barriers();
  return Promise.allSettled(
    members.map((h, i) => {
      const p = peers(barriers, members, h, apply ? 'apply' : 'dry');
      const a = typeof args === 'function' ? args(i) : args;
      return bringupStep.checkApply(
        a as never,
        ramsterCtx(new LocalTransport(roots[i]), apply, h, vars.get(h)!, { cluster: wrap ? wrap(p, h) : p }),
      );
    }),
  );
}
const values = (rs: Result[]) =>
  rs.map((r) =>
    r.status === 'fulfilled'
      ? r.value
      : (() => {
          throw r.reason;
        })(),
  );

describe('ramster_bringup on a kernel without RAMster (real: the folders have no /sys/kernel/mm/ramster)', () => {
  it('is skipped on every node with what it needs; nothing is written', async () => {
    const roots = members.map((h) => join(base, h));
    for (const r of roots) mkdirSync(join(r, 'sys/kernel/mm'), { recursive: true });
    const before = await snapshot(base);
    for (const apply of [false, true]) {
      for (const c of values(await runAll(roots, apply)))
        expect(c).toMatchObject({ action: 'none', skipped: NEEDS_RAMSTER_KERNEL });
    }
    expect(await snapshot(base)).toEqual(before);
  });

  it('when only some nodes have it, all skip and say which lack it', async () => {
    const roots = members.map((h) => join(base, h));
    mkdirSync(join(roots[0], 'sys/kernel/mm/ramster'), { recursive: true });
    mkdirSync(roots[1]);
    for (const c of values(await runAll(roots, true)))
      expect(c.skipped).toBe(`${NEEDS_RAMSTER_KERNEL} (missing on host1)`);
  });
});

// FAKE KERNEL: sysfs, configfs and /proc are plain folders inside each node's root; a `mkdir`
// wrapper on PATH adds what configfs creates by itself in a new cluster directory; the kernel
// log is a script (dmesg_command) that reports a peer connected once both nodes have written
// manual_node_up. A plain file cannot accumulate like the kernel's manual_node_up ("0 1 "),
// so the test writes that readout itself where it checks idempotence. The real kernel ABI
// needs a RAMster kernel (3.4-3.10) in the lab.
describe('ramster_bringup against a folder standing in for sysfs and configfs', () => {
  let savedPath: string | undefined;
  beforeAll(() => {
    savedPath = process.env.PATH;
  });
  afterAll(() => {
    process.env.PATH = savedPath;
  });

  function seed(): string[] {
    const bin = join(base, 'bin');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'mkdir'),
      `#!/bin/sh
/bin/mkdir "$@" || exit $?
for d in "$@"; do
  case "$d" in
  */sys/kernel/config/cluster/*/*) ;;
  */sys/kernel/config/cluster/*)
    /bin/mkdir "$d/node" "$d/heartbeat"
    echo 30000 > "$d/idle_timeout_ms"; echo 2000 > "$d/keepalive_delay_ms"; echo 2000 > "$d/reconnect_delay_ms"
    echo 31 > "$d/heartbeat/dead_threshold" ;;
  esac
done
`,
    );
    chmodSync(join(bin, 'mkdir'), 0o755);
    process.env.PATH = `${bin}:${savedPath}`;
    const roots = members.map((h) => join(base, h));
    const { cluster } = hostLegacyCluster({ ...vars.get('host0')!, host: 'host0' });
    roots.forEach((r, i) => {
      const put = (p: string, content: string) => {
        mkdirSync(join(r, p, '..'), { recursive: true });
        writeFileSync(join(r, p), content);
      };
      mkdirSync(join(r, 'sys/kernel/config/cluster'), { recursive: true });
      put('sys/kernel/mm/ramster/manual_node_up', '\n');
      put('sys/kernel/mm/ramster/remote_target_nodenum', 'unset\n');
      put('sys/kernel/mm/ramster/pers_remotify_enable', '0\n');
      put('sys/kernel/mm/ramster/eph_remotify_enable', '0\n');
      put('proc/mounts', `configfs ${r}/sys/kernel/config configfs rw 0 0\n`);
      put('proc/filesystems', 'nodev\tconfigfs\n');
      put('proc/modules', '');
      put('etc/ramster.conf', renderRamsterConf(cluster));
      put('etc/default/ramster', renderDefaults(cluster, i));
      mkdirSync(join(r, 'usr/sbin'), { recursive: true });
      copyFileSync(ctlSource, join(r, 'usr/sbin/ramster-ctl'));
      chmodSync(join(r, 'usr/sbin/ramster-ctl'), 0o755);
      const peer = 1 - i;
      put(
        'fake-dmesg',
        `if [ -n "$(tr -d ' \\n' < ${r}/sys/kernel/mm/ramster/manual_node_up)" ] && [ -n "$(tr -d ' \\n' < ${roots[peer]}/sys/kernel/mm/ramster/manual_node_up)" ]; then
  echo "[   42.1] ramster: ${i === 0 ? 'Accepted connection from' : 'Connected to'} node node${peer} (num ${peer}) at 10.0.0.1${peer}:7777"
fi
`,
      );
    });
    return roots;
  }
  const fakeDmesg = (roots: string[]) => (i: number) => ({
    dmesg_command: `sh ${roots[i]}/fake-dmesg`,
    connect_timeout_s: 10,
  });
  const sys = (r: string, f: string) => readFileSync(join(r, 'sys/kernel/mm/ramster', f), 'utf8').trim();

  it('plans, then brings the cluster up in order: start everywhere, node-up everywhere, then the target; converged after', async () => {
    const roots = seed();
    const before = await snapshot(base);
    const dry = values(await runAll(roots, false, fakeDmesg(roots)));
    expect(await snapshot(base)).toEqual(before);
    expect(dry[0].summary).toBe(
      'cluster ramster node 0: ramster-ctl start; node-up 0 1; remotify to node 1 (read back); waits up to 10 s for node 1 to connect',
    );
    expect(dry[1].summary).toBe(
      'cluster ramster node 1: ramster-ctl start; node-up 0 1; waits up to 10 s for node 0 to connect',
    );
    expect(dry[0].diff).toContain(`+ mkdir ${roots[0]}/sys/kernel/config/cluster/ramster/node/node0`);
    expect(dry[0].diff).toContain(`+ write ${roots[0]}/sys/kernel/config/cluster/ramster/node/node0/local 1`);

    // What every node had done when it reached each barrier.
    const seen: string[] = [];
    const wrap = (p: ClusterPeers, host: string): ClusterPeers => ({
      members: p.members,
      exchange: async <T>(key: string, value: T) => {
        const i = members.indexOf(host);
        const r = roots[i];
        const cfs = existsSync(join(r, `sys/kernel/config/cluster/ramster/node/node${i}/local`));
        seen.push(
          `${host} ${key}: configfs=${cfs} up="${sys(r, 'manual_node_up')}" target=${sys(r, 'remote_target_nodenum')}`,
        );
        return p.exchange(key, value);
      },
    });
    const applied = values(await runAll(roots, true, fakeDmesg(roots), wrap));
    expect(applied).toEqual(dry);
    expect(seen.sort()).toEqual([
      'host0 connected: configfs=true up="1" target=unset',
      'host0 started: configfs=true up="" target=unset',
      'host0 state: configfs=false up="" target=unset',
      'host1 connected: configfs=true up="1" target=unset',
      'host1 started: configfs=true up="" target=unset',
      'host1 state: configfs=false up="" target=unset',
    ]);
    expect(
      readFileSync(join(roots[0], 'sys/kernel/config/cluster/ramster/heartbeat/dead_threshold'), 'utf8').trim(),
    ).toBe('500');
    expect(readFileSync(join(roots[1], 'sys/kernel/config/cluster/ramster/idle_timeout_ms'), 'utf8').trim()).toBe(
      '1000000',
    );
    expect([
      sys(roots[0], 'remote_target_nodenum'),
      sys(roots[0], 'pers_remotify_enable'),
      sys(roots[0], 'eph_remotify_enable'),
    ]).toEqual(['1', '1', '1']);
    expect([sys(roots[1], 'remote_target_nodenum'), sys(roots[1], 'pers_remotify_enable')]).toEqual(['unset', '0']);

    // The kernel's manual_node_up lists every node marked up.
    for (const r of roots) writeFileSync(join(r, 'sys/kernel/mm/ramster/manual_node_up'), '0 1 \n');
    const again = values(await runAll(roots, true, fakeDmesg(roots)));
    expect(again.map((c) => [c.action, c.summary])).toEqual([
      [
        'none',
        'cluster ramster node 0: configured, nodes 0 1 up, every peer connected, remote target node 1, remotify on',
      ],
      ['none', 'cluster ramster node 1: configured, nodes 0 1 up, every peer connected'],
    ]);
  });

  it('fails on every node, and sets no target, when a peer does not connect in time', async () => {
    const roots = seed();
    const rs = await runAll(roots, true, (i) =>
      i === 0 ? { dmesg_command: 'true', connect_timeout_s: 1.5 } : fakeDmesg(roots)(i),
    );
    const msgs = rs.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'passed'));
    expect(msgs[0]).toMatch(
      /node-up failed, so the cluster is not brought up: host0: node 1 did not connect within 1.5 s/,
    );
    expect(msgs[1]).toMatch(/host0: node 1 did not connect within 1.5 s/);
    expect(sys(roots[0], 'remote_target_nodenum')).toBe('unset');
  });

  it('refuses a target the kernel already holds (it cannot change until reboot)', async () => {
    const roots = seed();
    writeFileSync(join(roots[0], 'sys/kernel/mm/ramster/remote_target_nodenum'), '3\n');
    const rs = await runAll(roots, false, fakeDmesg(roots));
    expect(rs[0].status === 'rejected' && (rs[0].reason as Error).message).toMatch(
      /remote_target_nodenum is already 3, not 1: the kernel cannot change the remote target until a reboot/,
    );
    expect(rs[1].status === 'rejected' && (rs[1].reason as Error).message).toMatch(
      /cluster bring-up stopped: host0: remote_target_nodenum is already 3/,
    );
  });
});
