import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hostnameMatches, preflightStep } from '../../../../src/steps/ramster/preflight.ts';
import { LocalTransport } from '../../../../src/transport/local.ts';
import { debianFacts, expectConverges, snapshot, tempRoot } from '../helpers.ts';
import { clusterHosts, ramsterCtx } from './fixtures.ts';
import { NamespaceHost } from './livens.ts';

let root: string;
let cleanup: () => Promise<void>;
let t: LocalTransport;
const vars = clusterHosts(2).get('host0')!; // hostname node0
const ctx = (apply: boolean, facts = debianFacts()) => ramsterCtx(t, apply, 'host0', vars, { facts });

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempRoot('rp-preflight-'));
  t = new LocalTransport(root);
  await mkdir(join(root, 'etc'));
});
afterEach(() => cleanup());

describe('preflight step', () => {
  it('accepts the node name and its long form, as the ocfs2 parser does', () => {
    expect(hostnameMatches('node0', 'node0')).toBe(true);
    expect(hostnameMatches('node0.example.com', 'node0')).toBe(true);
    expect(hostnameMatches('node0', 'node0.example.com')).toBe(false);
    expect(hostnameMatches('node01', 'node0')).toBe(false);
  });

  it('passes without a change when facts and hostname fit, long form included', async () => {
    await writeFile(join(root, 'etc/hostname'), '# set by the installer\nnode0.example.com\n');
    const c = await preflightStep.checkApply({}, ctx(true));
    expect(c.action).toBe('none');
    expect(c.summary).toContain('x86_64, debian 12, systemd, grub2, kernel 6.1.0-test');
    expect(c.summary).toContain('hostname node0.example.com is node 0 (node0) of cluster ramster');
  });

  it('reports every unsupported fact at once, each with what to do', async () => {
    const facts = debianFacts({
      arch: 'aarch64',
      os_family: 'suse',
      distro: 'opensuse-leap',
      init_system: 'unknown',
      boot_loader: 'none',
    });
    const err = await preflightStep.checkApply({}, ctx(false, facts)).catch((e: Error) => e.message);
    expect(err).toMatch(/architecture is aarch64: RAMster has only been tested on x86_64/);
    expect(err).toMatch(/distribution opensuse-leap \(family suse\) is not supported/);
    expect(err).toMatch(/init system unknown/);
    expect(err).toMatch(/boot loader none: the grub stage needs GRUB 2/);
  });

  it('fails on a wrong hostname with the fix, and changes nothing', async () => {
    await writeFile(join(root, 'etc/hostname'), 'debian\n');
    const before = await snapshot(root);
    await expect(preflightStep.checkApply({}, ctx(true))).rejects.toThrow(
      /\/etc\/hostname holds 'debian', but the inventory names node 0 of cluster ramster 'node0'.*Fix: set `set_hostname: true`/,
    );
    expect(await snapshot(root)).toEqual(before);
  });

  it('set_hostname: a folder target only gets /etc/hostname; dry run equals apply; then converged', async () => {
    await writeFile(join(root, 'etc/hostname'), 'debian\n');
    const { dry } = await expectConverges(preflightStep, { set_hostname: true }, (a) => ctx(a), root);
    expect(dry.summary).toMatch(
      /set hostname to node0 \(\/etc\/hostname holds 'debian'\) \[image: \/etc\/hostname only\]/,
    );
    expect(dry.diff).toContain('-debian\n+node0');
    expect(await readFile(join(root, 'etc/hostname'), 'utf8')).toBe('node0\n');
  });

  it('set_hostname on EL6 edits HOSTNAME= in /etc/sysconfig/network, keeping the other lines', async () => {
    await mkdir(join(root, 'etc/sysconfig'));
    await writeFile(
      join(root, 'etc/sysconfig/network'),
      'NETWORKING=yes\nHOSTNAME=localhost.localdomain\nGATEWAY=10.0.0.1\n',
    );
    const el6 = debianFacts({
      os_family: 'redhat',
      distro: 'centos',
      distro_version: '6.10',
      init_system: 'sysvinit',
      boot_loader: 'grub-legacy',
    });
    await expect(preflightStep.checkApply({}, ctx(false, el6))).rejects.toThrow(
      /\/etc\/sysconfig\/network holds 'localhost.localdomain'/,
    );
    await expectConverges(preflightStep, { set_hostname: true }, (a) => ctx(a, el6), root);
    expect(await readFile(join(root, 'etc/sysconfig/network'), 'utf8')).toBe(
      'NETWORKING=yes\nHOSTNAME=node0\nGATEWAY=10.0.0.1\n',
    );
  });

  it('refuses a host that is in no RAMster cluster', async () => {
    await expect(preflightStep.checkApply({}, ramsterCtx(t, false, 'web1', { vars: {} }))).rejects.toThrow(
      /host web1 is in no RAMster cluster: add it to the hosts of an inventory group that has a `ramster:` section/,
    );
  });
});

describe('preflight step on a live host (UTS + mount namespace standing in for one)', () => {
  let host: NamespaceHost;
  beforeEach(async () => {
    host = await NamespaceHost.start('debian', { '/etc/hostname': 'debian\n' });
  });
  afterEach(() => host.close());
  const live = (apply: boolean) => ramsterCtx(host, apply, 'host0', vars);

  it('checks the running name too, and set_hostname sets both the running name and /etc/hostname', async () => {
    await expect(preflightStep.checkApply({}, live(false))).rejects.toThrow(
      /the running hostname is 'debian' and \/etc\/hostname holds 'debian'/,
    );
    const { dry } = await expectConverges(preflightStep, { set_hostname: true }, live, host.dir);
    expect(dry.summary).toContain(
      "set hostname to node0 (the running hostname is 'debian', /etc/hostname holds 'debian')",
    );
    expect((await host.exec('uname -n')).stdout.trim()).toBe('node0');
    expect(await readFile(join(host.dir, 'etc/hostname'), 'utf8')).toBe('node0\n');
  });

  it('a right /etc/hostname does not hide a wrong running name', async () => {
    await writeFile(join(host.dir, 'etc/hostname'), 'node0\n');
    const c = await preflightStep.checkApply({ set_hostname: true }, live(true));
    expect(c.summary).toContain("set hostname to node0 (the running hostname is 'debian')");
    expect(c.diff).toBeUndefined();
    expect((await host.exec('uname -n')).stdout.trim()).toBe('node0');
    expect((await preflightStep.checkApply({ set_hostname: true }, live(true))).action).toBe('none');
  });
});
