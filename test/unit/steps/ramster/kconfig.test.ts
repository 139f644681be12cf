import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Barriers } from '../../../../src/engine/barrier.ts';
import { parseConfig } from '../../../../src/kernel/kconfig.ts';
import { ensureKernelTree } from '../../../../src/kernel/kconfig-merge.ts';
import { kconfigStep } from '../../../../src/steps/ramster/kconfig.ts';
import type { StepContext } from '../../../../src/steps/types.ts';
import { LocalTransport } from '../../../../src/transport/local.ts';
import { makeCtx } from '../helpers.ts';
import { KERNEL_CACHE, KERNEL_TARBALL, runLocal } from '../../../helpers/kernel-tree.ts';
import { machineLimit, testChain } from '../../../helpers/machine.ts';

// Against the real Debian linux-source-6.1 tree (unpacked once into the cache by
// ensureKernelTree, shared with test/unit/ramster/kconfig-tree.test.ts). Each run works on a
// hard-linked copy: the step writes .config by rename and make only creates new files, so
// the shared tree stays clean for the O= builds of the other suite.
// Each test runs `make defconfig`/`olddefconfig` on the tree (~30 s together on an idle
// 2-core machine): limits from machineLimit, so a loaded machine only makes them slower.
const MAKE_LIMIT = machineLimit(30_000);

describe('kconfig step on the linux-source-6.1 tree', () => {
  const work = mkdtempSync(join(tmpdir(), 'rp-kconfig-step-'));
  const tree = join(work, 'linux');
  const play = join(work, 'playbook');
  const ctx = (apply: boolean): StepContext => makeCtx(new LocalTransport(), apply, { baseDir: play });
  const chain = testChain();
  const CONFIG = "the tree's .config (written by 'merges a fragment whose symbols exist')";

  beforeAll(async () => {
    const { tree: cached } = await ensureKernelTree(runLocal, { tarball: KERNEL_TARBALL, cacheDir: KERNEL_CACHE });
    execFileSync('cp', ['-al', cached, tree]);
    execFileSync('mkdir', ['-p', play]);
    // Symbols that exist in 6.1 and whose dependencies defconfig meets.
    writeFileSync(
      join(play, 'swap.config'),
      'CONFIG_ZSWAP=y\nCONFIG_FRONTSWAP=y\nCONFIG_CONFIGFS_FS=y\nCONFIG_NVME_TCP=m\n',
    );
    // OCFS2_FS_O2CB depends on OCFS2_FS, which defconfig leaves off.
    writeFileSync(join(play, 'o2cb.config'), 'CONFIG_OCFS2_FS_O2CB=m\n');
    writeFileSync(join(play, 'nfsd.config'), 'CONFIG_NFSD=m\n');
  }, machineLimit(120_000)); // unpacking linux-source the first time: a minute or two idle
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('without fragments the RAMster default is refused on 6.1, pointing to the modern backend', async () => {
    for (const apply of [false, true]) {
      await expect(kconfigStep.checkApply({ tree }, ctx(apply))).rejects.toThrow(
        /^Linux 6\.1 has no RAMster: it lived in drivers\/staging from 3\.4 to 3\.10 and was removed with zcache in 3\.11\.\n {2}hint: use 'backend: modern'/,
      );
    }
    expect(existsSync(join(tree, '.config'))).toBe(false);
  });

  it(
    'merges a fragment whose symbols exist: the dry run only plans, apply writes, the next runs change nothing',
    async () => {
      const args = { tree, base: 'defconfig', fragments: ['swap.config'] };
      const dry = await kconfigStep.checkApply(args, ctx(false));
      expect(dry).toMatchObject({
        action: 'create',
        summary: `create ${tree}/.config (base defconfig + swap.config; 4 fragment symbols verified)`,
      });
      expect(dry.diff).toMatch(/^\+CONFIG_ZSWAP=y$/m);
      expect(existsSync(join(tree, '.config'))).toBe(false); // the dry run merged in a scratch folder

      const applied = await kconfigStep.checkApply(args, ctx(true));
      expect(applied).toEqual(dry);
      const config = parseConfig(readFileSync(join(tree, '.config'), 'utf8'));
      expect([config.get('ZSWAP'), config.get('FRONTSWAP'), config.get('CONFIGFS_FS'), config.get('NVME_TCP')]).toEqual(
        ['y', 'y', 'y', 'm'],
      );
      expect(config.get('X86_64')).toBe('y'); // defconfig really was the base

      const mtime = statSync(join(tree, '.config')).mtimeMs;
      expect(await kconfigStep.checkApply(args, ctx(true))).toEqual({
        action: 'none',
        summary: `${tree}/.config up to date (base defconfig + swap.config; 4 fragment symbols verified)`,
      });
      // base auto = the tree's own .config through olddefconfig: also a fixed point
      expect((await kconfigStep.checkApply({ tree, fragments: ['swap.config'] }, ctx(true))).action).toBe('none');
      expect(statSync(join(tree, '.config')).mtimeMs).toBe(mtime);
      chain.made(CONFIG);
    },
    MAKE_LIMIT,
  );

  it(
    'shows the .config diff of a further fragment in the dry run and leaves the tree alone until apply',
    async () => {
      chain.needs(CONFIG);
      const before = readFileSync(join(tree, '.config'), 'utf8');
      const args = { tree, fragments: ['swap.config'], extra: ['nfsd.config'] };
      const dry = await kconfigStep.checkApply(args, ctx(false));
      expect(dry.action).toBe('update');
      expect(dry.summary).toBe(
        `update ${tree}/.config (base the tree's .config + swap.config + nfsd.config; 5 fragment symbols verified)`,
      );
      expect(dry.diff).toMatch(/^-# CONFIG_NFSD is not set$/m);
      expect(dry.diff).toMatch(/^\+CONFIG_NFSD=m$/m);
      expect(readFileSync(join(tree, '.config'), 'utf8')).toBe(before);
      expect(await kconfigStep.checkApply(args, ctx(true))).toEqual(dry);
      expect(parseConfig(readFileSync(join(tree, '.config'), 'utf8')).get('NFSD')).toBe('m');
      expect((await kconfigStep.checkApply(args, ctx(false))).action).toBe('none');
    },
    MAKE_LIMIT,
  );

  it(
    'fails naming the dropped symbol and the dependency that dropped it, leaving .config unchanged',
    async () => {
      chain.needs(CONFIG);
      const before = readFileSync(join(tree, '.config'), 'utf8');
      for (const apply of [false, true]) {
        const err = await kconfigStep
          .checkApply({ tree, base: 'defconfig', fragments: ['swap.config', 'o2cb.config'] }, ctx(apply))
          .catch((e: Error) => e.message);
        expect(err).toContain(
          `1 fragment symbol did not survive \`make olddefconfig\` in ${tree} (Linux 6.1, base defconfig, swap.config + o2cb.config); ${tree}/.config was left as it was:`,
        );
        expect(err).toContain(
          '  - CONFIG_OCFS2_FS_O2CB: wanted =m, the final .config has it not set (from o2cb.config): CONFIG_OCFS2_FS_O2CB depends on "OCFS2_FS": CONFIG_OCFS2_FS is not set',
        );
        expect(err).toMatch(/hint: enable the dependencies named above/);
      }
      expect(readFileSync(join(tree, '.config'), 'utf8')).toBe(before);
    },
    MAKE_LIMIT,
  );

  it(
    'reports a base config file that does not exist, and a fragment that cannot be read',
    async () => {
      await expect(
        kconfigStep.checkApply({ tree, base: '/nonexistent/config-6.1', fragments: ['swap.config'] }, ctx(false)),
      ).rejects.toThrow(/cannot read the base config \/nonexistent\/config-6\.1 on local/);
      await expect(kconfigStep.checkApply({ tree, fragments: ['missing.config'] }, ctx(false))).rejects.toThrow(
        `cannot read the kernel config fragment ${join(play, 'missing.config')}`,
      );
    },
    MAKE_LIMIT,
  );
});

describe('kconfig step in a cluster', () => {
  it('runs only on the build host; the other nodes report it skipped with the reason', async () => {
    const barriers = new Barriers();
    const vars = {
      ramster: {
        nodes: [
          { host: 'n2', number: 1 },
          { host: 'n1', number: 0 },
        ],
      },
    };
    const ctx = (host: string): StepContext => ({
      ...makeCtx(new LocalTransport('/nonexistent-root'), false, { vars }),
      host,
      cluster: { members: ['n1', 'n2'], exchange: (k, v) => barriers.exchange(k, host, ['n1', 'n2'], v) },
    });
    expect(await kconfigStep.checkApply({ tree: '/usr/src/linux' }, ctx('n2'))).toEqual({
      action: 'none',
      summary: 'kernel configured on n1',
      skipped: 'the kernel is configured on the build host, n1',
    });
    // n1 (node number 0) is the build host: it really looks at the tree (absent under this root)
    await expect(kconfigStep.checkApply({ tree: '/usr/src/linux' }, ctx('n1'))).rejects.toThrow(
      'no kernel tree at /usr/src/linux on local:/nonexistent-root',
    );
    await expect(kconfigStep.checkApply({ tree: '/usr/src/linux', build_host: 'n9' }, ctx('n1'))).rejects.toThrow(
      "build_host 'n9' is not a node of this cluster (nodes: n1, n2); use one of them, 'first' or 'control'",
    );
  });
});
