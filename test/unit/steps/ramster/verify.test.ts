import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderRamsterConf } from '../../../../src/ramster/conf.ts';
import { hostCluster } from '../../../../src/steps/ramster/cluster.ts';
import { NEEDS_KERNEL_CHECKS, verifyStep } from '../../../../src/steps/ramster/verify.ts';
import { LocalTransport } from '../../../../src/transport/local.ts';
import { tempRoot } from '../helpers.ts';
import { clusterVars, ramsterCtx } from './fixtures.ts';

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir: root, cleanup } = await tempRoot('rp-verify-')));
afterEach(() => cleanup());
const vars = clusterVars(2, 'one-way');
const ctx = () => ramsterCtx(new LocalTransport(root), true, 'host0', vars.get('host0')!);
const put = (p: string, content: string) => {
  mkdirSync(join(root, p, '..'), { recursive: true });
  writeFileSync(join(root, p), content);
};

describe('ramster_verify step', () => {
  it('is skipped, saying what needs a RAMster kernel, where /sys/kernel/mm/ramster is missing (real)', async () => {
    const c = await verifyStep.checkApply({}, ctx());
    expect(c).toMatchObject({ action: 'none', skipped: NEEDS_KERNEL_CHECKS });
    expect(c.skipped).toMatch(/needs a RAMster kernel booted with `zcache ramster`/);
  });

  // FAKE KERNEL: the sysfs and configfs files are plain files of the folder.
  it('passes on a node brought up as the HOW-TO says, fails listing every gap otherwise', async () => {
    const { cluster } = hostCluster({ vars: vars.get('host0')!, host: 'host0' });
    put('etc/ramster.conf', renderRamsterConf(cluster));
    put('sys/kernel/config/cluster/ramster/node/node0/local', '1\n');
    put('proc/mounts', `configfs ${root}/sys/kernel/config configfs rw 0 0\n`);
    put('proc/filesystems', 'nodev\tconfigfs\n');
    mkdirSync(join(root, 'usr/sbin'), { recursive: true });
    copyFileSync(new URL('../../../../playbooks/files/ramster-tools/ramster-ctl', import.meta.url).pathname, join(root, 'usr/sbin/ramster-ctl'));
    chmodSync(join(root, 'usr/sbin/ramster-ctl'), 0o755);
    const sysfs = (v: Record<string, string>) => Object.entries(v).forEach(([f, x]) => put(`sys/kernel/mm/ramster/${f}`, `${x}\n`));

    sysfs({ manual_node_up: '0 1 ', remote_target_nodenum: '1', pers_remotify_enable: '1', eph_remotify_enable: '1' });
    expect((await verifyStep.checkApply({}, ctx())).summary).toBe('node 0: cluster ramster Online, nodes 0 1 up, remote target node 1, remotify on');

    sysfs({ manual_node_up: '0 ', remote_target_nodenum: 'unset', pers_remotify_enable: '0', eph_remotify_enable: '1' });
    const err = await verifyStep.checkApply({}, ctx()).catch((e: Error) => e.message);
    expect(err).toContain('manual_node_up lacks node 1');
    expect(err).toContain('remote_target_nodenum reads "unset", expected 1');
    expect(err).toContain('pers_remotify_enable reads "0", expected 1');
    expect(err).not.toContain('eph_remotify_enable');
  });
});
