import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { heartbeatBlock } from '../../../../src/ramster/heartbeat.ts';
import { hostLegacyCluster } from '../../../../src/steps/ramster/cluster.ts';
import { editRclocal, rclocalStep } from '../../../../src/steps/ramster/rclocal.ts';
import { LocalTransport } from '../../../../src/transport/local.ts';
import { debianFacts, expectConverges, snapshot, tempRoot } from '../helpers.ts';
import { clusterHosts, ramsterCtx } from './fixtures.ts';

let root: string;
let cleanup: () => Promise<void>;
let t: LocalTransport;
const vars = clusterHosts(2, 'one-way');
const block0 = heartbeatBlock(hostLegacyCluster({ ...vars.get('host0')!, host: 'host0' }).cluster, 0);
const ctx = (apply: boolean, host = 'host0', facts = debianFacts()) =>
  ramsterCtx(t, apply, host, vars.get(host)!, { facts });
const BEGIN = '# BEGIN ramster-provision heartbeat\n';
const END = '# END ramster-provision heartbeat\n';

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempRoot('rp-rclocal-'));
  t = new LocalTransport(root);
  await mkdir(join(root, 'lib/systemd/system-generators'), { recursive: true });
  await writeFile(join(root, 'lib/systemd/system-generators/systemd-rc-local-generator'), '');
  await mkdir(join(root, 'etc'));
});
afterEach(() => cleanup());

describe('rc.local text', () => {
  it('a new file: #!/bin/sh -e, the block, exit 0', () => {
    expect(editRclocal(undefined, ['a', 'b'])).toBe(`#!/bin/sh -e\n${BEGIN}a\nb\n${END}exit 0\n`);
  });

  it('an existing file: block before the last exit 0, everything else kept; a changed block is replaced in place', () => {
    const old = '#!/bin/sh -e\r\n# keep me  \nif x; then exit 0\nfi\nexit 0\n';
    const once = editRclocal(old, ['a']);
    expect(once).toBe(`#!/bin/sh -e\r\n# keep me  \nif x; then exit 0\nfi\n${BEGIN}a\n${END}exit 0\n`);
    expect(editRclocal(once, ['b', 'c'])).toBe(
      `#!/bin/sh -e\r\n# keep me  \nif x; then exit 0\nfi\n${BEGIN}b\nc\n${END}exit 0\n`,
    );
    expect(editRclocal(once, ['a'])).toBe(once);
  });

  it("EL's rc.local (no exit 0) gets the block at the end; a file without #! gets the header", () => {
    expect(editRclocal('#!/bin/sh\ntouch /var/lock/subsys/local', ['a'])).toBe(
      `#!/bin/sh\ntouch /var/lock/subsys/local\n${BEGIN}a\n${END}`,
    );
    expect(editRclocal('echo hi\n', ['a'])).toBe(`#!/bin/sh -e\necho hi\n${BEGIN}a\n${END}`);
  });
});

describe('ramster_rclocal step', () => {
  it("creates /etc/rc.local 0755 with the node's heartbeat lines in the HOW-TO's order; converges", async () => {
    const { dry } = await expectConverges(rclocalStep, {}, (a) => ctx(a), root);
    expect(dry.summary).toBe(
      'create /etc/rc.local (mode 0755): heartbeat block for node 0 (run at boot by rc-local.service via systemd-rc-local-generator)',
    );
    const text = await readFile(join(root, 'etc/rc.local'), 'utf8');
    expect(text).toBe(`#!/bin/sh -e\n${BEGIN}${block0.map((l) => `${l}\n`).join('')}${END}exit 0\n`);
    const at = (s: string) => text.indexOf(s);
    expect(at('ramster-ctl start')).toBeLessThan(at('echo 0 > /sys/kernel/mm/ramster/manual_node_up'));
    expect(at('echo 1 > /sys/kernel/mm/ramster/manual_node_up')).toBeLessThan(at('remote_target_nodenum'));
    expect(at('remote_target_nodenum')).toBeLessThan(at('pers_remotify_enable'));
    expect((await stat(join(root, 'etc/rc.local'))).mode & 0o777).toBe(0o755);
  });

  it('makes an existing rc.local executable and keeps its lines; a lending node has no target lines', async () => {
    await writeFile(join(root, 'etc/rc.local'), '#!/bin/sh -e\nmodprobe zram\nexit 0\n');
    await chmod(join(root, 'etc/rc.local'), 0o644);
    const { dry } = await expectConverges(rclocalStep, {}, (a) => ctx(a, 'host1'), root);
    expect(dry.summary).toMatch(/^update \/etc\/rc\.local \(content, mode 0644 -> 0755\)/);
    const text = await readFile(join(root, 'etc/rc.local'), 'utf8');
    expect(text.startsWith('#!/bin/sh -e\nmodprobe zram\n# BEGIN')).toBe(true);
    expect(text.endsWith(`${END}exit 0\n`)).toBe(true);
    expect(text).not.toContain('remote_target_nodenum');
  });

  it('Red Hat: /etc/rc.d/rc.local (what rc-local.service runs there)', async () => {
    const rh = debianFacts({ os_family: 'redhat', distro: 'centos', distro_version: '7' });
    await expectConverges(rclocalStep, {}, (a) => ctx(a, 'host0', rh), root);
    expect(await readFile(join(root, 'etc/rc.d/rc.local'), 'utf8')).toContain('manual_node_up');
  });

  it('refuses to install an rc.local the shell cannot parse, leaving the old one', async () => {
    await writeFile(join(root, 'etc/rc.local'), '#!/bin/sh -e\nif true; then\nexit 0\n');
    const before = await snapshot(root);
    await expect(rclocalStep.checkApply({}, ctx(true))).rejects.toThrow(/validation failed/);
    expect(await snapshot(root)).toEqual(before);
  });

  it('refuses a systemd host without systemd-rc-local-generator, writing nothing', async () => {
    await rm(join(root, 'lib/systemd/system-generators/systemd-rc-local-generator'));
    const before = await snapshot(root);
    await expect(rclocalStep.checkApply({}, ctx(true))).rejects.toThrow(
      /runs systemd without systemd-rc-local-generator, so \/etc\/rc\.local would not run at boot/,
    );
    expect(await snapshot(root)).toEqual(before);
    // SysV init runs rc.local itself.
    await expectConverges(rclocalStep, {}, (a) => ctx(a, 'host0', debianFacts({ init_system: 'sysvinit' })), root);
  });
});
