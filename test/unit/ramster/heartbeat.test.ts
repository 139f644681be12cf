import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { heartbeatBlock, remoteTarget } from '../../../src/ramster/heartbeat.ts';
import { makeCluster } from './clusters.ts';
import { tempDir } from '../../helpers/tmp.ts';

const UP = (n: number) => `\techo ${n} > /sys/kernel/mm/ramster/manual_node_up`;

describe('heartbeatBlock', () => {
  it('one-way, borrowing node 0: start, every node up, then target with read-back, then both enables', () => {
    const lines = heartbeatBlock(makeCluster(2, 'one-way'), 0);
    expect(lines[0]).toBe('if [ -d /sys/kernel/mm/ramster ] && /usr/sbin/ramster-ctl start; then');
    expect(lines.slice(1, 3)).toEqual([UP(0), UP(1)]);
    expect(lines[3]).toMatch(
      /echo 1 > \/sys\/kernel\/mm\/ramster\/remote_target_nodenum; \[ "\$\(cat \/sys\/kernel\/mm\/ramster\/remote_target_nodenum\)" = 1 \] && break/,
    );
    expect(lines[4]).toMatch(/\|\| logger -t ramster/);
    expect(lines.slice(5, 7)).toEqual([
      '\techo 1 > /sys/kernel/mm/ramster/pers_remotify_enable',
      '\techo 1 > /sys/kernel/mm/ramster/eph_remotify_enable',
    ]);
    expect(lines.at(-1)).toBe('fi');
  });

  it('one-way, lending node 1: only the node-up lines', () => {
    const lines = heartbeatBlock(makeCluster(2, 'one-way'), 1);
    expect(lines.filter((l) => l.includes('/sys/kernel/mm/ramster/'))).toEqual([UP(0), UP(1)]);
    expect(lines.join('\n')).not.toMatch(/remote_target_nodenum|remotify_enable/);
  });

  it('symmetric: each node targets the other', () => {
    const c = makeCluster(2, 'symmetric');
    expect(heartbeatBlock(c, 0).join('\n')).toMatch(/echo 1 > \/sys\/kernel\/mm\/ramster\/remote_target_nodenum/);
    expect(heartbeatBlock(c, 1).join('\n')).toMatch(/echo 0 > \/sys\/kernel\/mm\/ramster\/remote_target_nodenum/);
  });

  it('ram-server with 8 nodes: all eight node-up lines everywhere; node 0 lends, the others target 0', () => {
    const c = makeCluster(8, 'ram-server');
    for (const n of c.nodes) {
      const lines = heartbeatBlock(c, n.number);
      expect(lines.filter((l) => l.includes('manual_node_up'))).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map(UP));
      const text = lines.join('\n');
      if (n.number === 0) expect(text).not.toContain('remote_target_nodenum');
      else {
        expect(text).toContain('echo 0 > /sys/kernel/mm/ramster/remote_target_nodenum');
        const lastUp = lines.map((l) => l.includes('manual_node_up')).lastIndexOf(true);
        const target = lines.findIndex((l) => l.includes('remote_target_nodenum'));
        const enable = lines.findIndex((l) => l.includes('remotify_enable'));
        expect(lastUp < target && target < enable).toBe(true);
      }
    }
  });

  it('refuses what the legacy kernel cannot do', () => {
    const c = makeCluster(3);
    c.nodes[1].targets = [0, 2];
    expect(() => heartbeatBlock(c, 1)).toThrow(/one remote target per node/);
    c.nodes[1].targets = [1];
    expect(() => remoteTarget(c, c.nodes[1])).toThrow(/targets itself/);
    c.nodes[1].targets = [5];
    expect(() => heartbeatBlock(c, 1)).toThrow(/targets node 5, which is not in cluster/);
    expect(() => heartbeatBlock(c, 6)).toThrow(/has no node number 6/);
  });

  it('runs under sh -e against stand-in files: writes in order, reads the target back', () => {
    // FAKE sysfs: a folder; `ramster-ctl` is replaced by `true`. Real sysfs runs in the lab.
    const root = tempDir('ramster-hb-');
    const sys = join(root, 'sys');
    mkdirSync(sys);
    writeFileSync(join(sys, 'remote_target_nodenum'), 'unset\n');
    const script = heartbeatBlock(makeCluster(3, 'ram-server'), 2)
      .join('\n')
      .replaceAll('/sys/kernel/mm/ramster', sys)
      .replace('/usr/sbin/ramster-ctl start', 'true');
    const r = spawnSync('sh', ['-e', '-c', `${script}\necho done`], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('done\n');
    expect(readFileSync(join(sys, 'manual_node_up'), 'utf8')).toBe('2\n');
    expect(readFileSync(join(sys, 'remote_target_nodenum'), 'utf8')).toBe('0\n');
    expect(readFileSync(join(sys, 'eph_remotify_enable'), 'utf8')).toBe('1\n');
  });
});
