import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseKernelVersion, selectFragment } from '../../../src/kernel/kconfig.ts';
import { type FragmentCheck, checkFragments, ensureKernelTree } from '../../../src/kernel/kconfig-merge.ts';
import { KERNEL_CACHE, KERNEL_TARBALL, runLocal } from '../../helpers/kernel-tree.ts';
import { machineLimit } from '../../helpers/machine.ts';
import { tempDir } from '../../helpers/tmp.ts';

// Against the real Debian linux-source-6.1 tree (test/helpers/kernel-tree.ts: unpacked once, a minute
// or two the first time, then reused). Needs make, gcc, flex, bison and bc.

describe('kconfig merge on the linux-source-6.1 tree', () => {
  let tree: string;
  let result: FragmentCheck;
  const work = tempDir('ramster-kconfig-');

  beforeAll(async () => {
    ({ tree } = await ensureKernelTree(runLocal, { tarball: KERNEL_TARBALL, cacheDir: KERNEL_CACHE }));
    // Symbols that exist in 6.1 and must survive, plus three that cannot: OCFS2_FS_O2CB needs
    // OCFS2_FS (off in defconfig), RTS5208 sits inside `if STAGING`, CLEANCACHE was removed in 5.17.
    const fragment = join(work, 'test.config');
    writeFileSync(
      fragment,
      'CONFIG_ZSWAP=y\nCONFIG_FRONTSWAP=y\nCONFIG_CONFIGFS_FS=y\nCONFIG_NVME_TCP=m\n' +
        'CONFIG_OCFS2_FS_O2CB=m\nCONFIG_RTS5208=m\nCONFIG_CLEANCACHE=y\n',
    );
    result = await checkFragments(runLocal, {
      tree,
      outDir: join(work, 'out'),
      base: 'defconfig',
      fragments: [fragment],
    });
  }, machineLimit(150_000)); // unpacking the tree the first time, then make defconfig: ~2.5 min idle

  it('unpacks a tarball once into the cache (a tiny stand-in tree), then reuses it', async () => {
    const src = join(work, 'linux-tiny');
    await runLocal(
      `mkdir -p ${src} && printf 'VERSION = 3\\nPATCHLEVEL = 10\\n' > ${src}/Makefile && tar -cJf ${work}/tiny.tar.xz -C ${work} linux-tiny`,
    );
    const cache = join(work, 'cache/linux-tiny');
    expect(await ensureKernelTree(runLocal, { tarball: join(work, 'tiny.tar.xz'), cacheDir: cache })).toEqual({
      tree: cache,
      extracted: true,
    });
    expect(await ensureKernelTree(runLocal, { tarball: join(work, 'tiny.tar.xz'), cacheDir: cache })).toEqual({
      tree: cache,
      extracted: false,
    });
    expect(selectFragment(parseKernelVersion(readFileSync(join(cache, 'Makefile'), 'utf8'))!)).toMatchObject({
      fragment: 'ramster-3.10.config',
    });
  });

  it('reuses the unpacked tree on the next call', async () => {
    expect(await ensureKernelTree(runLocal, { tarball: KERNEL_TARBALL, cacheDir: KERNEL_CACHE })).toEqual({
      tree: KERNEL_CACHE,
      extracted: false,
    });
  });

  it('keeps the symbols whose dependencies are met', () => {
    expect(result.values.get('ZSWAP')).toBe('y');
    expect(result.values.get('FRONTSWAP')).toBe('y');
    expect(result.values.get('CONFIGFS_FS')).toBe('y');
    expect(result.values.get('NVME_TCP')).toBe('m');
    expect(readFileSync(join(work, 'out/.config'), 'utf8')).toBe(result.config);
  });

  it('reports exactly the dropped symbols, each with the dependency that dropped it', () => {
    expect(result.missing.map((m) => [m.symbol, m.wanted, m.got])).toEqual([
      ['OCFS2_FS_O2CB', 'm', 'n'],
      ['RTS5208', 'm', 'n'],
      ['CLEANCACHE', 'y', 'n'],
    ]);
    const [o2cb, rts, cleancache] = result.missing.map((m) => m.explanation);
    expect(o2cb.culprits).toEqual(['OCFS2_FS']);
    expect(o2cb.reason).toBe('CONFIG_OCFS2_FS_O2CB depends on "OCFS2_FS": CONFIG_OCFS2_FS is not set');
    expect(rts.culprits).toEqual(['STAGING']);
    expect(cleancache.reason).toMatch(/CONFIG_CLEANCACHE does not exist in this kernel tree/);
  });

  it("selectFragment on the tree's Makefile: no RAMster in 6.1, use the modern backend", () => {
    const v = parseKernelVersion(readFileSync(join(tree, 'Makefile'), 'utf8'));
    expect(v).toMatchObject({ version: 6, patchlevel: 1 });
    const choice = selectFragment(v!);
    expect(choice).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^Linux 6\.1 has no RAMster/),
      hint: expect.stringMatching(/backend: modern/),
    });
  });
});
