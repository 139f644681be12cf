import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { changedSteps, cliJson, explain, hostOf } from './cli.ts';
import { downTestLab, onGuest, recordTimings, upTestLab, type TestLab } from './helpers.ts';
import { Barriers } from '../../src/engine/barrier.ts';
import { ensureKernelTree } from '../../src/kernel/kconfig-merge.ts';
import { kconfigStep } from '../../src/steps/ramster/kconfig.ts';
import { kernelBuildStep, type KernelBuildArgs } from '../../src/steps/ramster/kernel-build.ts';
import { parseManifest } from '../../src/kernel/plan.ts';
import type { Change, StepContext } from '../../src/steps/types.ts';
import { ChrootTransport } from '../../src/transport/chroot.ts';
import { gatherFacts, type Facts } from '../../src/transport/facts.ts';
import { LocalTransport } from '../../src/transport/local.ts';
import type { Transport } from '../../src/transport/types.ts';
import { KERNEL_CACHE, KERNEL_TARBALL, runLocal } from '../helpers/kernel-tree.ts';
import { labLimit } from '../helpers/machine.ts';

// A REAL kernel build: Debian's linux-source-6.1 configured by the kconfig step (allnoconfig
// + CONFIG_64BIT=y), built with `make bindeb-pkg` on this machine, installed with dpkg into
// two real Debian root filesystems (mmdebstrap --variant=essential, cached as a tarball).
// In the lab suite (`npm run test:integration`), not the unit suite: the build alone takes
// 2.5 minutes on an idle 2-core machine, but 7 to 13.5 minutes while other suites (QEMU
// guests under TCG, parallel test files) share the two cores, as they do in `npm test`.
//
//   node0: LocalTransport(root0) — the build host (node number 0): make runs here with the
//          tree at root0/usr/src/linux, dpkg runs through `chroot root0`;
//   node1: ChrootTransport(root1) — gets the package through the control machine's cache.
// Neither root has a boot loader, so the default-entry part is reported as not applicable;
// GRUB is exercised by the parser tests and the QEMU lab.
const ROOTFS_TAR = process.env.RAMSTER_TEST_ROOTFS ?? '/var/cache/ramster-provision/test-rootfs/bookworm-essential.tar';
const KERNELS = '/var/cache/ramster-provision/kernels';

const must = async (script: string) => {
  const r = await runLocal(script);
  if (r.code !== 0) throw new Error(`${script}: ${r.stderr}`);
  return r.stdout;
};

const MAKEFILE_PATCH = `--- a/Makefile
+++ b/Makefile
@@ -3,5 +3,5 @@
 PATCHLEVEL = 1
 SUBLEVEL = 192
-EXTRAVERSION =
+EXTRAVERSION = -rptest
 NAME = Curry Ramen
${' '}
`;
// Written for 6.1.5: patch's default fuzz would still apply it to 6.1.192; the step does not.
const STALE_PATCH = MAKEFILE_PATCH.replace('SUBLEVEL = 192', 'SUBLEVEL = 5');
const COMPILE_ERROR_PATCH = `--- a/kernel/bounds.c
+++ b/kernel/bounds.c
@@ -1,4 +1,5 @@
 // SPDX-License-Identifier: GPL-2.0
+#error injected by the ramster-provision kernel_build test
 /*
  * Generate definitions needed by the preprocessor.
  * This code generates raw asm output which is post-processed
`;

const work = mkdtempSync(join(tmpdir(), 'rp-kernel-build-'));
const root0 = join(work, 'node0');
const root1 = join(work, 'node1');
const play = join(work, 'playbook');
const timings: Record<string, number | undefined> = {};
/** The build key of the first (successful) build; the guests below get its package. */
let key = '';

afterAll(async () => {
  recordTimings('kernel-build', timings);
  await must(`rm -rf ${work}`); // a failed build keeps its 1.5 GB source copy: minutes under load
}, labLimit(900_000));

describe('kernel_build: a real bindeb-pkg build, installed on two Debian roots', () => {
  const control = join(work, 'control-cache');
  const t0 = new LocalTransport(root0);
  const t1 = new ChrootTransport(root1);
  const facts: Record<string, Facts> = {};
  const logs: string[] = [];

  const vars = {
    ramster: {
      nodes: [
        { host: 'node1', number: 1 },
        { host: 'node0', number: 0 },
      ],
    },
  };
  /** Both nodes run the step concurrently, meeting through the engine's real Barriers. */
  async function runCluster(args: KernelBuildArgs, apply: boolean): Promise<Record<'node0' | 'node1', Change | Error>> {
    const barriers = new Barriers();
    const members = ['node0', 'node1'];
    const one = async (host: 'node0' | 'node1', t: Transport): Promise<Change | Error> => {
      const ctx: StepContext = {
        t,
        facts: facts[host],
        apply,
        host,
        vars,
        baseDir: play,
        log: (l) => logs.push(`${host}: ${l}`),
        cluster: { members, exchange: (k, v) => barriers.exchange(`kb/${k}`, host, members, v) },
      };
      try {
        return await kernelBuildStep.checkApply(args, ctx);
      } catch (e) {
        return e as Error;
      } finally {
        barriers.leave(host); // what the engine does when a host's run ends
      }
    };
    const [node0, node1] = await Promise.all([one('node0', t0), one('node1', t1)]);
    return { node0, node1 };
  }
  const args: KernelBuildArgs = {
    source: '/usr/src/linux',
    patches: ['extraversion.patch'],
    control_cache_dir: control,
    progress_s: 20,
  };
  const dpkgStatus = (root: string) =>
    must(`chroot ${root} dpkg-query -W -f '\${Status} \${Version}' linux-image-6.1.192-rptest 2>&1 || true`);

  beforeAll(async () => {
    let t = Date.now();
    const { tree: cached } = await ensureKernelTree(runLocal, { tarball: KERNEL_TARBALL, cacheDir: KERNEL_CACHE });
    await must(`set -e; mkdir -p "$(dirname ${ROOTFS_TAR})"; exec 9>${ROOTFS_TAR}.lock; flock 9
[ -f ${ROOTFS_TAR} ] || { mmdebstrap --quiet --variant=essential bookworm ${ROOTFS_TAR}.partial.tar && mv ${ROOTFS_TAR}.partial.tar ${ROOTFS_TAR}; }`);
    timings.setupRootfsMs = Date.now() - t;
    t = Date.now();
    for (const r of [root0, root1]) await must(`mkdir -p ${r} && tar -xf ${ROOTFS_TAR} -C ${r}`);
    await must(`cp -al ${cached} ${root0}/usr/src/linux`);
    timings.setupCopyMs = Date.now() - t;
    facts.node0 = await gatherFacts(t0);
    facts.node1 = await gatherFacts(t1);
    mkdirSync(play, { recursive: true });
    writeFileSync(join(play, '64bit.config'), 'CONFIG_64BIT=y\n');
    writeFileSync(join(play, 'extraversion.patch'), MAKEFILE_PATCH);
    writeFileSync(join(play, 'stale.patch'), STALE_PATCH);
    writeFileSync(join(play, 'compile-error.patch'), COMPILE_ERROR_PATCH);
    // The kconfig step leaves the merged .config in the tree; kernel_build builds from it.
    const c = await kconfigStep.checkApply(
      { tree: '/usr/src/linux', base: 'allnoconfig', fragments: ['64bit.config'] },
      {
        t: t0,
        facts: facts.node0,
        apply: true,
        host: 'node0',
        vars: {},
        baseDir: play,
        log: () => {},
      },
    );
    expect(c.action).toBe('create');
  }, labLimit(1_200_000));
  it('dry run: plans the build on node0 and both installs, changes nothing', async () => {
    expect(facts.node0.os_family).toBe('debian');
    const r = await runCluster(args, false);
    if (r.node0 instanceof Error) throw r.node0;
    if (r.node1 instanceof Error) throw r.node1;
    key = /build kernel ([0-9a-f]{16}) /.exec(r.node0.summary)?.[1] ?? '';
    expect(key).toMatch(/^[0-9a-f]{16}$/);
    expect(r.node0).toEqual({
      action: 'create',
      summary: `build kernel ${key} from /usr/src/linux on node0 (make bindeb-pkg); install kernel build ${key} and make it the default boot entry`,
      rebootRequired: true,
    });
    expect(r.node1).toEqual({
      action: 'create',
      summary: `install kernel build ${key} from node0 and make it the default boot entry`,
      rebootRequired: true,
    });
    expect(existsSync(join(root0, KERNELS, key))).toBe(false);
    expect(existsSync(control)).toBe(false);
  });

  it(
    'apply: builds once on node0, installs on both nodes, records the key (rebootRequired)',
    async () => {
      const started = Date.now();
      const r = await runCluster(args, true);
      timings.firstApplyMs = Date.now() - started;
      if (r.node0 instanceof Error) throw r.node0;
      if (r.node1 instanceof Error) throw r.node1;
      expect(r.node0.summary).toBe(
        `build kernel ${key} from /usr/src/linux on node0 (make bindeb-pkg); install kernel build ${key} and make it the default boot entry`,
      );
      expect(r.node1).toMatchObject({ action: 'create', rebootRequired: true });

      const dir = join(root0, KERNELS, key);
      const manifest = parseManifest(readFileSync(join(dir, 'manifest'), 'utf8'))!;
      expect(manifest.release).toBe('6.1.192-rptest'); // the patch was applied to the build's copy
      expect(manifest.image.name).toMatch(
        /^linux-image-6\.1\.192-rptest_6\.1\.192-rptest-rp\.[0-9a-f]{12}_amd64\.deb$/,
      );
      expect(readFileSync(join(root0, 'usr/src/linux/Makefile'), 'utf8')).toMatch(/^EXTRAVERSION =$/m); // ... not to the tree
      expect(existsSync(join(dir, 'tree'))).toBe(false); // the build copy is gone after success
      expect(readFileSync(join(dir, 'build.log'), 'utf8')).toMatch(
        /dpkg-deb: building package 'linux-image-6\.1\.192-rptest'/,
      );
      for (const root of [root0, root1]) {
        expect(await dpkgStatus(root)).toMatch(/^install ok installed 6\.1\.192-rptest-rp\./);
        expect(existsSync(join(root, 'boot/vmlinuz-6.1.192-rptest'))).toBe(true);
        expect(readFileSync(join(root, 'var/lib/ramster-provision/kernel.key'), 'utf8')).toContain(
          `key=${key}\nrelease=6.1.192-rptest\npackage=${manifest.image.name}\nsource=/usr/src/linux\n`,
        );
      }
      // node1 got the package through the control machine's cache, byte for byte
      expect(await must(`sha256sum < ${join(control, key, manifest.image.name)} | cut -d' ' -f1`)).toBe(
        `${manifest.image.sha256}\n`,
      );
      expect(await must(`sha256sum < ${join(root1, KERNELS, key, manifest.image.name)} | cut -d' ' -f1`)).toBe(
        `${manifest.image.sha256}\n`,
      );
      expect(
        logs.some((l) =>
          /^node0: building kernel [0-9a-f]{16} on node0: \d+(m\d\d)?s elapsed, \d+ objects compiled/.test(l),
        ),
      ).toBe(true);
      timings.buildMs = statSync(join(dir, 'complete')).mtimeMs - statSync(join(dir, 'build.sh')).mtimeMs;
    },
    labLimit(1_200_000),
  );

  it(
    'second apply: no rebuild, no reinstall',
    async () => {
      const dir = join(root0, KERNELS, key);
      const stamps = () => ['complete', 'build.log', 'manifest'].map((f) => statSync(join(dir, f)).mtimeMs);
      const before = stamps();
      const keyFiles = [root0, root1].map((r) => statSync(join(r, 'var/lib/ramster-provision/kernel.key')).mtimeMs);
      const started = Date.now();
      const r = await runCluster(args, true);
      timings.secondApplyMs = Date.now() - started;
      expect(r.node0).toEqual({
        action: 'none',
        summary: `kernel 6.1.192-rptest (build ${key}) installed (local:${root0} is an image: its boot loader picks the newest kernel when it is installed)`,
      });
      expect(r.node1).toEqual({
        action: 'none',
        summary: `kernel 6.1.192-rptest (build ${key}) installed (chroot:${root1} is an image: its boot loader picks the newest kernel when it is installed)`,
      });
      expect(stamps()).toEqual(before);
      expect([root0, root1].map((r) => statSync(join(r, 'var/lib/ramster-provision/kernel.key')).mtimeMs)).toEqual(
        keyFiles,
      );
      expect(timings.secondApplyMs).toBeLessThan(30_000);
    },
    labLimit(120_000),
  );

  it(
    'a patch that does not apply fails the build with its log; no node is changed',
    async () => {
      const r = await runCluster({ ...args, patches: ['stale.patch'] }, true);
      expect(r.node0).toBeInstanceOf(Error);
      const msg = (r.node0 as Error).message;
      const failedKey = /kernels\/([0-9a-f]{16})\/build\.log/.exec(msg)?.[1];
      expect(msg).toMatch(
        new RegExp(
          `^the kernel build on node0 failed \\(exit 65\\) after \\d+s; no node was changed\\. Full log on node0: ${KERNELS}/${failedKey}/build\\.log\\nlast lines:\\n`,
        ),
      );
      expect(msg).toContain('ramster-provision: patch 01-stale.patch does not apply to');
      expect(readFileSync(join(root0, KERNELS, failedKey!, 'build.log'), 'utf8')).toContain('Hunk #1 FAILED');
      expect((r.node1 as Error).message).toBe(`nothing was changed on node1: ${msg.split('\n')[0]}`);
      for (const root of [root0, root1]) {
        expect(readFileSync(join(root, 'var/lib/ramster-provision/kernel.key'), 'utf8')).toContain(`key=${key}\n`);
        expect(await dpkgStatus(root)).toMatch(/^install ok installed/);
      }
    },
    labLimit(300_000),
  );

  it(
    'a compile error fails the build, keeps the log and names it with its last lines',
    async () => {
      const started = Date.now();
      const r = await runCluster({ ...args, patches: ['extraversion.patch', 'compile-error.patch'] }, true);
      timings.compileErrorMs = Date.now() - started;
      const msg = (r.node0 as Error).message;
      expect(msg).toMatch(
        /^the kernel build on node0 failed \(exit 2\) after \d+(m\d\d)?s; no node was changed\. Full log on node0: \/var\/cache\/ramster-provision\/kernels\/[0-9a-f]{16}\/build\.log\nlast lines:\n/,
      );
      expect(msg).toContain('#error injected by the ramster-provision kernel_build test');
      const logPath = /Full log on node0: (\S+)/.exec(msg)![1];
      expect(readFileSync(join(root0, logPath), 'utf8')).toContain('kernel/bounds.c');
      expect(existsSync(join(root0, logPath.replace(/build\.log$/, 'complete')))).toBe(false);
      expect(r.node1).toBeInstanceOf(Error);
      expect(readFileSync(join(root1, 'var/lib/ramster-provision/kernel.key'), 'utf8')).toContain(`key=${key}\n`);
    },
    labLimit(600_000),
  );
});

describe('kernel_build on two QEMU guests through the CLI: the cached build from the control machine, GRUB default entry', () => {
  let lab: TestLab;
  let failed = false;
  const playbook = join(play, 'guests.yaml');

  beforeAll(async () => {
    lab = await upTestLab('kernel-build');
    timings.labUpMs = lab.upMs;
    // The same tree, .config and patch as above, seen from the control machine: the same key,
    // so the package built above (in node0's cache) is found there and nothing is rebuilt.
    writeFileSync(
      playbook,
      `- name: kernel on the lab guests
  hosts: all
  steps:
    - name: kernel built once per cluster, installed on every node as the default boot entry
      kernel_build:
        source: ${root0}/usr/src/linux
        patches: [extraversion.patch]
        build_host: control
        cache_dir: ${root0}${KERNELS}
`,
    );
  }, labLimit(1_800_000));
  afterEach(({ task }) => {
    if (task.result?.state === 'fail') failed = true;
  });
  afterAll(async () => {
    if (lab) await downTestLab(lab.dir, { remove: !failed });
  }, labLimit(300_000));

  it(
    'plan, apply (dpkg -i over SSH, GRUB_DEFAULT=saved + saved_entry), then a second apply that changes nothing',
    async () => {
      expect(key).toMatch(/^[0-9a-f]{16}$/);
      const inv = lab.state.inventory;
      const summary = `install kernel 6.1.192-rptest (build ${key}) from control (this machine) and make it the default boot entry`;
      const plan = await cliJson(['plan', '-i', inv, playbook]);
      expect(plan.code, explain(plan)).toBe(2);
      const hosts = plan.result.hosts.map((h) => h.host);
      for (const h of hosts)
        expect(changedSteps(hostOf(plan.result, h)).map((s) => s.change?.summary)).toEqual([summary]);

      let started = Date.now();
      const apply = await cliJson(['apply', '-i', inv, playbook]);
      timings.guestsApplyMs = Date.now() - started;
      expect(apply.code, explain(apply)).toBe(0);
      for (const h of hosts) {
        expect(changedSteps(hostOf(apply.result, h)).map((s) => [s.change?.summary, s.change?.rebootRequired])).toEqual(
          [[summary, true]],
        );
        const out = await onGuest(
          lab.state,
          h,
          `dpkg-query -W -f '\${Status}\\n' linux-image-6.1.192-rptest; grep '^GRUB_DEFAULT=' /etc/default/grub; grub-editenv list | grep '^saved_entry='; grep -o "'gnulinux-6.1.192-rptest-advanced-[^']*'" /boot/grub/grub.cfg | head -n 1; cat /var/lib/ramster-provision/kernel.key`,
        );
        const [status, grubDefault, saved, entryId] = out.split('\n');
        expect(status).toBe('install ok installed');
        expect(grubDefault).toBe('GRUB_DEFAULT=saved');
        expect(saved).toMatch(
          /^saved_entry=gnulinux-advanced-[0-9a-f-]+>gnulinux-6\.1\.192-rptest-advanced-[0-9a-f-]+$/,
        );
        expect(saved.split('>')[1]).toBe(entryId.replace(/'/g, ''));
        expect(out).toContain(`key=${key}\nrelease=6.1.192-rptest\n`);
      }

      started = Date.now();
      const again = await cliJson(['apply', '-i', inv, playbook]);
      timings.guestsSecondApplyMs = Date.now() - started;
      expect(again.code, explain(again)).toBe(0);
      expect(again.result.totals.changed, explain(again)).toBe(0);
    },
    labLimit(1_800_000),
  );
});
