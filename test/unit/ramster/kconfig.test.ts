import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  evalKconfigExpr,
  explainDrop,
  findDependsOn,
  flattenKconfig,
  formatMissing,
  missingSymbols,
  parseConfig,
  parseKernelVersion,
  selectFragment,
} from '../../../src/kernel/kconfig.ts';

const kconfigDir = new URL('../../../kconfig/', import.meta.url).pathname;
const fragment = (name: string) => parseConfig(readFileSync(kconfigDir + name, 'utf8'));

describe('parseKernelVersion / selectFragment', () => {
  it('reads the top Makefile', () => {
    const mk = '# SPDX\nVERSION = 3\nPATCHLEVEL = 10\nSUBLEVEL = 108\nEXTRAVERSION = -rc1\nNAME = TOSSUG Baby Fish\n';
    expect(parseKernelVersion(mk)).toEqual({ version: 3, patchlevel: 10, sublevel: 108, extraversion: '-rc1' });
    expect(parseKernelVersion('VERSION = 3\nPATCHLEVEL =\n')).toBeUndefined();
    expect(parseKernelVersion('all:\n\techo\n')).toBeUndefined();
  });

  it.each([
    [3, 4, 'ramster-3.4.config'],
    [3, 6, 'ramster-3.4.config'],
    [3, 7, 'ramster-3.7.config'],
    [3, 8, 'ramster-3.7.config'],
    [3, 9, 'ramster-3.9.config'],
    [3, 10, 'ramster-3.10.config'],
  ])('Linux %i.%i -> %s (and the file exists)', (version, patchlevel, file) => {
    const r = selectFragment({ version, patchlevel });
    expect(r).toMatchObject({ ok: true, fragment: file });
    expect(readdirSync(kconfigDir)).toContain(file);
  });

  it.each([
    [3, 11],
    [4, 19],
    [6, 1],
    [3, 3],
    [2, 6],
  ])('Linux %i.%i has no RAMster and points to the modern backend', (version, patchlevel) => {
    const r = selectFragment({ version, patchlevel });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatch(new RegExp(`^Linux ${version}\\.${patchlevel} has no RAMster`));
    expect(r.hint).toMatch(/backend: modern/);
  });
});

describe('kconfig fragments', () => {
  it('carry the reference facts of each generation', () => {
    const common = {
      STAGING: 'y',
      CONFIGFS_FS: 'y',
      SYSFS: 'y',
      NET: 'y',
      SWAP: 'y',
      CLEANCACHE: 'y',
      FRONTSWAP: 'y',
      RAMSTER: 'y',
      DEBUG_FS: 'y',
      CRYPTO: 'y',
    };
    for (const f of ['ramster-3.4.config', 'ramster-3.7.config', 'ramster-3.9.config', 'ramster-3.10.config'])
      expect(Object.fromEntries(fragment(f))).toMatchObject(common);
    expect(fragment('ramster-3.4.config').get('ZCACHE')).toBe('n');
    expect(fragment('ramster-3.7.config').get('ZCACHE2')).toBe('y');
    expect(fragment('ramster-3.7.config').get('ZCACHE')).toBe('n');
    expect(fragment('ramster-3.9.config').get('ZCACHE')).toBe('y');
    expect(fragment('ramster-3.9.config').has('RAMSTER_DEBUG')).toBe(false);
    expect(Object.fromEntries(fragment('ramster-3.10.config'))).toMatchObject({
      ZCACHE: 'y',
      ZCACHE_DEBUG: 'y',
      RAMSTER_DEBUG: 'y',
    });
  });
});

describe('parseConfig / missingSymbols', () => {
  const final = parseConfig(
    '#\n# Automatically generated\nCONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_S="zstd lzo"\nCONFIG_N=42\n',
  );

  it('reads values, strings and "is not set"', () => {
    expect([...final]).toEqual([
      ['A', 'y'],
      ['B', 'm'],
      ['C', 'n'],
      ['S', '"zstd lzo"'],
      ['N', '42'],
    ]);
  });

  it('names every fragment symbol whose final value differs; absent equals not set', () => {
    const frag =
      'CONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\n# CONFIG_D is not set\nCONFIG_E=y\nCONFIG_S="lzo"\nCONFIG_N=42\n';
    const missing = missingSymbols(frag, final);
    expect(missing).toEqual([
      { symbol: 'B', wanted: 'y', got: 'm' },
      { symbol: 'E', wanted: 'y', got: 'n' },
      { symbol: 'S', wanted: '"lzo"', got: '"zstd lzo"' },
    ]);
    expect(formatMissing(missing[1])).toBe('CONFIG_E: wanted =y, the final .config has it not set');
  });
});

describe('Kconfig dependencies', () => {
  const staging = `menuconfig STAGING
\tbool "Staging drivers"
\thelp
\t  depends on NOTHING - help text is not a dependency

if STAGING
source "drivers/staging/zcache/Kconfig"
endif
`;
  const zcache = `config ZCACHE
\tbool "Dynamic compression of swap pages and clean pagecache pages"
\tdepends on CRYPTO=y && SWAP=y && CLEANCACHE && FRONTSWAP
\tselect CRYPTO_LZO
\tdefault n
\thelp
\t  Zcache doubles RAM efficiency.

config RAMSTER
\ttristate "Cross-machine RAM capacity sharing, aka peer-to-peer tmem"
\tdepends on CONFIGFS_FS=y && SYSFS=y && !HIGHMEM && ZCACHE
\tdepends on NET
\t# must ensure struct page is 8-byte aligned
\tselect HAVE_ALIGNED_STRUCT_PAGE if !64BIT

menu "hidden things"
\tdepends on EXPERT

config HIDDEN
\tdef_bool y

config SHOWN
\tbool "shown" if DEBUG_KERNEL
endmenu
`;
  const text = flattenKconfig({ 'drivers/staging/Kconfig': staging, 'drivers/staging/zcache/Kconfig': zcache });

  it('collects depends on lines with enclosing if/menu blocks and prompt conditions, not help text', () => {
    expect(findDependsOn(text, 'RAMSTER')).toEqual([
      {
        symbol: 'RAMSTER',
        type: 'tristate',
        hasPrompt: true,
        dependsOn: ['STAGING', 'CONFIGFS_FS=y && SYSFS=y && !HIGHMEM && ZCACHE', 'NET'],
      },
    ]);
    expect(findDependsOn(text, 'STAGING')[0].dependsOn).toEqual([]);
    expect(findDependsOn(text, 'HIDDEN')).toEqual([
      { symbol: 'HIDDEN', type: 'bool', hasPrompt: false, dependsOn: ['STAGING', 'EXPERT'] },
    ]);
    expect(findDependsOn(text, 'SHOWN')[0].dependsOn).toEqual(['STAGING', 'EXPERT', 'DEBUG_KERNEL']);
    expect(findDependsOn(text, 'NOPE')).toEqual([]);
  });

  it('evaluates tristate expressions', () => {
    const c = parseConfig('CONFIG_A=y\nCONFIG_B=m\nCONFIG_MODULES=y\nCONFIG_S="x"\n');
    expect(evalKconfigExpr('A && B', c)).toBe(1);
    expect(evalKconfigExpr('A || B', c)).toBe(2);
    expect(evalKconfigExpr('!A', c)).toBe(0);
    expect(evalKconfigExpr('B=y', c)).toBe(0);
    expect(evalKconfigExpr('B!=y && (A || Z)', c)).toBe(2);
    expect(evalKconfigExpr('!Z && S="x"', c)).toBe(2);
  });

  it('names the dependency that dropped a symbol', () => {
    const cfg = parseConfig('CONFIG_STAGING=y\nCONFIG_CONFIGFS_FS=m\nCONFIG_SYSFS=y\nCONFIG_ZCACHE=y\nCONFIG_NET=y\n');
    const e = explainDrop('RAMSTER', findDependsOn(text, 'RAMSTER'), cfg, 'y');
    expect(e.culprits).toEqual(['CONFIGFS_FS']);
    expect(e.reason).toBe(
      'CONFIG_RAMSTER depends on "CONFIGFS_FS=y && SYSFS=y && !HIGHMEM && ZCACHE": CONFIG_CONFIGFS_FS=m (needs = y)',
    );
    const noStaging = explainDrop('RAMSTER', findDependsOn(text, 'RAMSTER'), parseConfig('CONFIG_NET=y\n'));
    expect(noStaging.culprits).toEqual(['STAGING']);
    const highmem = explainDrop(
      'RAMSTER',
      findDependsOn(text, 'RAMSTER'),
      parseConfig(
        'CONFIG_STAGING=y\nCONFIG_CONFIGFS_FS=y\nCONFIG_SYSFS=y\nCONFIG_ZCACHE=y\nCONFIG_HIGHMEM=y\nCONFIG_NET=y\n',
      ),
    );
    expect(highmem.reason).toMatch(/CONFIG_HIGHMEM=y \(must be off\)$/);
  });

  it('explains symbols that are unknown, invisible, or not tristate', () => {
    const cfg = parseConfig('CONFIG_STAGING=y\nCONFIG_EXPERT=y\n');
    expect(explainDrop('CLEANCACHE', [], cfg).reason).toMatch(/does not exist in this kernel tree/);
    expect(explainDrop('HIDDEN', findDependsOn(text, 'HIDDEN'), cfg, 'n').reason).toMatch(/has no prompt/);
    expect(explainDrop('ZCACHE', findDependsOn(text, 'ZCACHE'), cfg, 'm').reason).toBe(
      'CONFIG_ZCACHE is a bool: it cannot be m',
    );
  });
});
