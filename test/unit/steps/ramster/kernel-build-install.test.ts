import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Barriers } from '../../../../src/engine/barrier.ts';
import { kernelBuildStep, type KernelBuildArgs } from '../../../../src/steps/ramster/kernel-build.ts';
import type { Change, StepContext } from '../../../../src/steps/types.ts';
import { ChrootTransport } from '../../../../src/transport/chroot.ts';
import { gatherFacts, type Facts } from '../../../../src/transport/facts.ts';
import type { Transport } from '../../../../src/transport/types.ts';
import { machineLimit, testChain } from '../../../helpers/machine.ts';

// kernel_build's cluster path without the compile (the real build is test/lab/kernel-build.test.ts):
// build_host `control` (this machine) with a tiny source tree, whose build cache is seeded with
// a real .deb made by dpkg-deb, as the build script leaves it (manifest + complete). Two real
// Debian root filesystems (mmdebstrap --variant=essential, cached as a tarball) are the nodes,
// reached through ChrootTransport: the package travels control -> node through the transport
// and is installed with dpkg. The nodes meet through the engine's real Barriers.
const ROOTFS_TAR = process.env.RAMSTER_TEST_ROOTFS ?? '/var/cache/ramster-provision/test-rootfs/bookworm-essential.tar';

const sh = (script: string) => execFileSync('sh', ['-c', script], { encoding: 'utf8', maxBuffer: 1 << 26 });

describe('kernel_build: package from the build cache to every node, installed once', () => {
  const work = mkdtempSync(join(tmpdir(), 'rp-kernel-install-'));
  const tree = join(work, 'linux-9.9.9');
  const cache = join(work, 'kernels');
  const roots = { node0: join(work, 'node0'), node1: join(work, 'node1') };
  const t: Record<string, Transport> = {
    node0: new ChrootTransport(roots.node0),
    node1: new ChrootTransport(roots.node1),
  };
  const facts: Record<string, Facts> = {};
  const args: KernelBuildArgs = { source: tree, build_host: 'control', cache_dir: cache };
  const vars = {
    ramster: {
      nodes: [
        { host: 'node0', number: 0 },
        { host: 'node1', number: 1 },
      ],
    },
  };
  const CONTROL = 'control (this machine)';
  let key = '';
  const chain = testChain();
  const KEY = "the build key (from 'dry run, nothing cached')";
  const INSTALLED = "the kernel installed on both nodes (by 'with the package cached')";

  async function runCluster(a: KernelBuildArgs, apply: boolean): Promise<Record<string, Change | Error>> {
    const barriers = new Barriers();
    const members = ['node0', 'node1'];
    const one = async (host: string): Promise<Change | Error> => {
      const ctx: StepContext = {
        t: t[host],
        facts: facts[host],
        apply,
        host,
        vars,
        baseDir: work,
        log: () => {},
        cluster: { members, exchange: (k, v) => barriers.exchange(k, host, members, v) },
      };
      try {
        return await kernelBuildStep.checkApply(a, ctx);
      } catch (e) {
        return e as Error;
      } finally {
        barriers.leave(host);
      }
    };
    const [node0, node1] = await Promise.all(members.map(one));
    return { node0, node1 };
  }

  /** What a successful build leaves in <cache_dir>/<key>/: a real package, its manifest, `complete`. */
  function seedBuild(k: string): string {
    const pkg = join(work, 'pkg');
    mkdirSync(join(pkg, 'DEBIAN'), { recursive: true });
    mkdirSync(join(pkg, 'boot'), { recursive: true });
    writeFileSync(
      join(pkg, 'DEBIAN/control'),
      'Package: linux-image-9.9.9-rptest\nVersion: 9.9.9-rp.test\nArchitecture: all\nMaintainer: ramster-provision tests <tests@example.org>\nDescription: kernel image stand-in\n',
    );
    writeFileSync(join(pkg, 'boot/vmlinuz-9.9.9-rptest'), 'not really a kernel\n'.repeat(1000));
    const name = 'linux-image-9.9.9-rptest_9.9.9-rp.test_all.deb';
    const dir = join(cache, k);
    mkdirSync(dir, { recursive: true });
    sh(`dpkg-deb --root-owner-group --build ${pkg} ${join(dir, name)} >/dev/null`);
    const sum = sh(`sha256sum < ${join(dir, name)} | cut -d' ' -f1`).trim();
    writeFileSync(
      join(dir, 'manifest'),
      `release 9.9.9-rptest\nformat deb\nimage ${name}\nfile ${sum} ${statSync(join(dir, name)).size} ${name}\n`,
    );
    writeFileSync(join(dir, 'complete'), '');
    return name;
  }

  beforeAll(async () => {
    sh(`set -e; mkdir -p "$(dirname ${ROOTFS_TAR})"; exec 9>${ROOTFS_TAR}.lock; flock 9
[ -f ${ROOTFS_TAR} ] || { mmdebstrap --quiet --variant=essential bookworm ${ROOTFS_TAR}.partial.tar && mv ${ROOTFS_TAR}.partial.tar ${ROOTFS_TAR}; }`);
    for (const r of Object.values(roots)) sh(`mkdir -p ${r} && tar -xf ${ROOTFS_TAR} -C ${r}`);
    mkdirSync(tree);
    writeFileSync(join(tree, 'Makefile'), 'VERSION = 9\nPATCHLEVEL = 9\nSUBLEVEL = 9\nEXTRAVERSION = -rptest\n');
    writeFileSync(join(tree, '.config'), 'CONFIG_64BIT=y\n');
    for (const h of ['node0', 'node1']) facts[h] = await gatherFacts(t[h]);
  }, machineLimit(120_000)); // mmdebstrap of a minimal rootfs the first time: ~2 min idle
  afterAll(() => sh(`rm -rf ${work}`), machineLimit(10_000));

  it('dry run, nothing cached: node0 (first node) plans the build on control, both nodes the install', async () => {
    const r = await runCluster(args, false);
    key = /build kernel ([0-9a-f]{16}) /.exec((r.node0 as Change).summary)?.[1] ?? '';
    expect(r.node0).toEqual({
      action: 'create',
      summary: `build kernel ${key} from ${tree} on ${CONTROL} (make bindeb-pkg); install kernel build ${key} from ${CONTROL} and make it the default boot entry`,
      rebootRequired: true,
    });
    expect(r.node1).toEqual({
      action: 'create',
      summary: `install kernel build ${key} from ${CONTROL} and make it the default boot entry`,
      rebootRequired: true,
    });
    expect(existsSync(cache)).toBe(false);
    chain.made(KEY);
  });

  it('with the package cached: no build; apply installs on both nodes exactly what the dry run said', async () => {
    chain.needs(KEY);
    const image = seedBuild(key);
    const dry = await runCluster(args, false);
    const want = {
      action: 'create',
      summary: `install kernel 9.9.9-rptest (build ${key}) from ${CONTROL} and make it the default boot entry`,
      rebootRequired: true,
    };
    expect(dry).toEqual({ node0: want, node1: want });
    expect(await runCluster(args, true)).toEqual(dry);
    for (const root of Object.values(roots)) {
      expect(sh(`chroot ${root} dpkg-query -W -f '\${Status}' linux-image-9.9.9-rptest`)).toBe('install ok installed');
      expect(readFileSync(join(root, 'boot/vmlinuz-9.9.9-rptest'), 'utf8')).toMatch(/^not really a kernel\n/);
      expect(readFileSync(join(root, cache, key, image))).toEqual(readFileSync(join(cache, key, image)));
      expect(readFileSync(join(root, 'var/lib/ramster-provision/kernel.key'), 'utf8')).toContain(
        `key=${key}\nrelease=9.9.9-rptest\npackage=${image}\nsource=${tree}\n`,
      );
    }
    chain.made(INSTALLED);
  });

  it('second apply: nothing to do on either node', async () => {
    chain.needs(INSTALLED);
    const stamp = statSync(join(roots.node1, 'var/lib/ramster-provision/kernel.key')).mtimeMs;
    const r = await runCluster(args, true);
    expect(r.node0).toEqual({
      action: 'none',
      summary: `kernel 9.9.9-rptest (build ${key}) installed (chroot:${roots.node0} is an image: its boot loader picks the newest kernel when it is installed)`,
    });
    expect((r.node1 as Change).action).toBe('none');
    expect(statSync(join(roots.node1, 'var/lib/ramster-provision/kernel.key')).mtimeMs).toBe(stamp);
  });

  it('a node whose kernel package was removed by hand gets it again; the other is left alone', async () => {
    chain.needs(INSTALLED);
    sh(`chroot ${roots.node1} dpkg --purge linux-image-9.9.9-rptest >/dev/null`);
    const r = await runCluster(args, true);
    expect((r.node0 as Change).action).toBe('none');
    expect(r.node1).toMatchObject({
      action: 'update',
      summary: `install kernel 9.9.9-rptest (build ${key}) from ${CONTROL} and make it the default boot entry (/var/lib/ramster-provision/kernel.key names build ${key}, but /boot/vmlinuz-9.9.9-rptest is not installed any more)`,
    });
    expect(sh(`chroot ${roots.node1} dpkg-query -W -f '\${Status}' linux-image-9.9.9-rptest`)).toBe(
      'install ok installed',
    );
  });

  it('a changed .config is a new key: the dry run plans a new build and reinstall everywhere', async () => {
    chain.needs(KEY, INSTALLED);
    writeFileSync(join(tree, '.config'), 'CONFIG_64BIT=y\nCONFIG_SWAP=y\n');
    const r = await runCluster(args, false);
    const newKey = /build kernel ([0-9a-f]{16}) /.exec((r.node0 as Change).summary)?.[1];
    expect(newKey).toMatch(/^[0-9a-f]{16}$/);
    expect(newKey).not.toBe(key);
    expect(r.node1).toEqual({
      action: 'update',
      summary: `install kernel build ${newKey} from ${CONTROL} and make it the default boot entry (replaces 9.9.9-rptest, build ${key})`,
      rebootRequired: true,
    });
  });

  it('a build host that cannot plan fails there; the other node reports it and changes nothing', async () => {
    const r = await runCluster({ ...args, config: '/nonexistent/.config' }, true);
    expect((r.node0 as Error).message).toBe(
      `no kernel config at /nonexistent/.config on ${CONTROL}: give the path of a merged .config`,
    );
    expect((r.node1 as Error).message).toBe(
      `nothing was changed on node1: the kernel build on ${CONTROL} could not be planned: no kernel config at /nonexistent/.config on ${CONTROL}: give the path of a merged .config`,
    );
  });
});
