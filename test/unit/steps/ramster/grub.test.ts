import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  editDefaultGrub,
  editLegacyGrubConf,
  editTokens,
  grubCfgKernelArgs,
  grubCmdlineStep,
  staleTokens,
} from '../../../../src/steps/ramster/grub.ts';
import { LocalTransport } from '../../../../src/transport/local.ts';
import { debianFacts, expectConverges, makeCtx, snapshot, tempRoot } from '../helpers.ts';
import { NamespaceHost } from './livens.ts';
import { DEBIAN_DEFAULT_GRUB } from './seed.ts';

describe('kernel command line token set', () => {
  it('appends missing tokens in order, keeps the others where they are', () => {
    expect(editTokens(['quiet', 'console=ttyS0'], ['zcache', 'ramster'], [])).toEqual([
      'quiet',
      'console=ttyS0',
      'zcache',
      'ramster',
    ]);
    expect(editTokens(['ramster', 'quiet'], ['zcache', 'ramster'], [])).toEqual(['ramster', 'quiet', 'zcache']);
  });

  it('drops duplicates of managed tokens only, and replaces key=value in place', () => {
    expect(editTokens(['zcache', 'a', 'zcache', 'a'], ['zcache'], [])).toEqual(['zcache', 'a', 'a']);
    expect(editTokens(['mem=1G', 'quiet', 'mem=2G'], ['mem=4G'], [])).toEqual(['mem=4G', 'quiet']);
  });

  it('removes absent tokens: a bare name also removes name=value', () => {
    expect(
      editTokens(['zcache=lz4', 'quiet', 'zcache', 'noselfshrink'], ['ramster'], ['zcache', 'noselfshrink']),
    ).toEqual(['quiet', 'ramster']);
    expect(editTokens(['mem=1G', 'mem=2G'], [], ['mem=2G'])).toEqual(['mem=1G']);
  });

  it('says which tokens make a generated kernel line stale', () => {
    expect(staleTokens(['ro', 'quiet'], ['zcache', 'ramster'], [])).toEqual(['zcache', 'ramster']);
    expect(staleTokens(['ro', 'zcache', 'ramster', 'nofrontswap'], ['zcache', 'ramster'], ['nofrontswap'])).toEqual([
      'nofrontswap',
    ]);
    expect(staleTokens(['zcache', 'ramster'], ['zcache', 'ramster'], [])).toEqual([]);
  });

  it('reads the kernel lines of a grub.cfg, ignoring memtest and other non-kernel entries', () => {
    const cfg =
      "menuentry 'Debian' {\n\tlinux\t/boot/vmlinuz-3.10.0 root=UUID=x ro zcache ramster quiet\n}\nmenuentry memtest {\n\tlinux16\t/boot/memtest86+.bin\n}\n";
    expect(grubCfgKernelArgs(cfg)).toEqual([['root=UUID=x', 'ro', 'zcache', 'ramster', 'quiet']]);
  });

  it("only judges the 10_linux section's kernel lines when there is one (os-prober entries keep their own)", () => {
    const cfg = [
      '### BEGIN /etc/grub.d/10_linux ###',
      '\tlinux\t/boot/vmlinuz-3.10.0 ro zcache ramster',
      '\tlinux\t/boot/vmlinuz-3.10.0 ro single zcache ramster',
      '### END /etc/grub.d/10_linux ###',
      '### BEGIN /etc/grub.d/30_os-prober ###',
      '\tlinux /boot/vmlinuz-5.10.0 root=/dev/sdb1 ro quiet',
      '### END /etc/grub.d/30_os-prober ###',
    ].join('\n');
    expect(grubCfgKernelArgs(cfg)).toEqual([
      ['ro', 'zcache', 'ramster'],
      ['ro', 'single', 'zcache', 'ramster'],
    ]);
  });
});

describe('/etc/default/grub editing', () => {
  it('edits only the GRUB_CMDLINE_LINUX line; every other byte stays', () => {
    const { text, before, after } = editDefaultGrub(DEBIAN_DEFAULT_GRUB, ['zcache', 'ramster'], []);
    expect([before, after]).toEqual([[], ['zcache', 'ramster']]);
    expect(text).toBe(DEBIAN_DEFAULT_GRUB.replace('GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="zcache ramster"'));
    expect(editDefaultGrub(text, ['zcache', 'ramster'], []).text).toBe(text);
  });

  it('keeps the quote style, a trailing comment and CRLF; quotes an unquoted value', () => {
    expect(editDefaultGrub("GRUB_CMDLINE_LINUX='quiet' # mine\r\nX=1\n", ['zcache'], []).text).toBe(
      "GRUB_CMDLINE_LINUX='quiet zcache' # mine\r\nX=1\n",
    );
    expect(editDefaultGrub('GRUB_CMDLINE_LINUX=quiet\n', ['zcache'], []).text).toBe(
      'GRUB_CMDLINE_LINUX="quiet zcache"\n',
    );
    expect(editDefaultGrub('export GRUB_CMDLINE_LINUX="a  b"\n', ['a'], []).text).toBe(
      'export GRUB_CMDLINE_LINUX="a  b"\n',
    );
  });

  it('edits the last assignment (the one the shell keeps) and appends one when there is none', () => {
    expect(
      editDefaultGrub('GRUB_CMDLINE_LINUX="a"\nGRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX b"\n', ['zcache'], []).text,
    ).toBe('GRUB_CMDLINE_LINUX="a"\nGRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX b zcache"\n');
    expect(editDefaultGrub('GRUB_TIMEOUT=5', ['zcache', 'ramster'], []).text).toBe(
      'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="zcache ramster"\n',
    );
    expect(editDefaultGrub('GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n', ['zcache'], []).text).toBe(
      'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="zcache"\n',
    );
  });

  it('edits every kernel line of an EL6 grub.conf like grubby --update-kernel=ALL', () => {
    const conf =
      'default=0\ntitle CentOS (2.6.32)\n\troot (hd0,0)\n\tkernel /vmlinuz-2.6.32 ro root=/dev/sda1 rhgb quiet\n\tinitrd /initramfs-2.6.32.img\ntitle RAMster (3.10.0)\n\tkernel /vmlinuz-3.10.0 ro root=/dev/sda1 zcache\n';
    expect(editLegacyGrubConf(conf, ['zcache', 'ramster'], ['rhgb'])).toBe(
      'default=0\ntitle CentOS (2.6.32)\n\troot (hd0,0)\n\tkernel /vmlinuz-2.6.32 ro root=/dev/sda1 quiet zcache ramster\n\tinitrd /initramfs-2.6.32.img\ntitle RAMster (3.10.0)\n\tkernel /vmlinuz-3.10.0 ro root=/dev/sda1 zcache ramster\n',
    );
  });
});

describe('grub_cmdline step (folder target: the file only, no regeneration)', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  let t: LocalTransport;
  beforeEach(async () => {
    ({ dir: root, cleanup } = await tempRoot('rp-grub-'));
    t = new LocalTransport(root);
    await mkdir(join(root, 'etc/default'), { recursive: true });
    await writeFile(join(root, 'etc/default/grub'), DEBIAN_DEFAULT_GRUB);
  });
  afterEach(() => cleanup());
  const ctx = (apply: boolean, facts = debianFacts()) => makeCtx(t, apply, { facts });

  it('adds zcache ramster and user extras (a nested list from a variable); reboot required; converges', async () => {
    const { dry } = await expectConverges(
      grubCmdlineStep,
      { tokens: ['zcache', 'ramster', ['noselfshrink']] },
      ctx,
      root,
    );
    expect(dry.rebootRequired).toBe(true);
    expect(dry.summary).toMatch(
      /^\/etc\/default\/grub: GRUB_CMDLINE_LINUX \+ zcache ramster noselfshrink \(grub.cfg not regenerated: local:.* is an image; run update-grub/,
    );
    expect(dry.diff).toContain('-GRUB_CMDLINE_LINUX=""\n+GRUB_CMDLINE_LINUX="zcache ramster noselfshrink"');
    expect(await readFile(join(root, 'etc/default/grub'), 'utf8')).toBe(
      DEBIAN_DEFAULT_GRUB.replace('GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="zcache ramster noselfshrink"'),
    );
  });

  it('removes tokens with absent', async () => {
    await grubCmdlineStep.checkApply({ tokens: ['zcache', 'ramster', 'noselfshrink'] }, ctx(true));
    const { dry } = await expectConverges(
      grubCmdlineStep,
      { tokens: ['zcache', 'ramster'], absent: [['noselfshrink']] },
      ctx,
      root,
    );
    expect(dry.summary).toContain('GRUB_CMDLINE_LINUX - noselfshrink');
    expect(await readFile(join(root, 'etc/default/grub'), 'utf8')).toContain('GRUB_CMDLINE_LINUX="zcache ramster"\n');
  });

  it('EL6 legacy GRUB in an image: writes the kernel lines of /boot/grub/grub.conf directly', async () => {
    await mkdir(join(root, 'boot/grub'), { recursive: true });
    await writeFile(join(root, 'boot/grub/grub.conf'), 'title CentOS\n\tkernel /vmlinuz-3.4.0 ro quiet\n');
    const el6 = debianFacts({ os_family: 'redhat', boot_loader: 'grub-legacy' });
    const { dry } = await expectConverges(grubCmdlineStep, { tokens: ['zcache', 'ramster'] }, (a) => ctx(a, el6), root);
    expect(dry.summary).toBe('/boot/grub/grub.conf: every kernel line has zcache ramster; written directly (image)');
    expect(await readFile(join(root, 'boot/grub/grub.conf'), 'utf8')).toBe(
      'title CentOS\n\tkernel /vmlinuz-3.4.0 ro quiet zcache ramster\n',
    );
  });

  it('refuses bad tokens, contradictions and a missing /etc/default/grub without touching anything', async () => {
    const before = await snapshot(root);
    await expect(grubCmdlineStep.checkApply({ tokens: ['zcache ramster'] }, ctx(true))).rejects.toThrow(
      /"zcache ramster" is not a single kernel parameter/,
    );
    await expect(grubCmdlineStep.checkApply({ tokens: ['zcache'], absent: ['zcache'] }, ctx(true))).rejects.toThrow(
      /zcache is both in tokens and absent/,
    );
    await expect(
      grubCmdlineStep.checkApply({ tokens: ['x'] }, ctx(true, debianFacts({ boot_loader: 'none' }))),
    ).rejects.toThrow(/has no GRUB the step knows/);
    expect(await snapshot(root)).toEqual(before);
    await rm(join(root, 'etc/default/grub'));
    await expect(grubCmdlineStep.checkApply({ tokens: ['zcache'] }, ctx(false))).rejects.toThrow(
      /\/etc\/default\/grub does not exist; install the distribution's GRUB 2 package/,
    );
  });
});

// A fake update-grub that renders grub.cfg from /etc/default/grub the way the real one does
// for the kernel lines, and counts its runs.
const FAKE_UPDATE_GRUB = `#!/bin/sh
. /etc/default/grub
echo run >> /boot/update-grub.log
printf "menuentry 'Debian' {\\n\\tlinux\\t/boot/vmlinuz-3.10.0 root=/dev/vda1 ro %s %s\\n}\\n" "$GRUB_CMDLINE_LINUX" "$GRUB_CMDLINE_LINUX_DEFAULT" > /boot/grub/grub.cfg
`;

describe('grub_cmdline step on a live host (mount namespace standing in for one)', () => {
  let host: NamespaceHost;
  beforeEach(async () => {
    host = await NamespaceHost.start('node0', {
      '/etc/default/grub': DEBIAN_DEFAULT_GRUB,
      '/boot/grub/grub.cfg': "menuentry 'Debian' {\n\tlinux\t/boot/vmlinuz-3.10.0 root=/dev/vda1 ro quiet\n}\n",
      '/bin/update-grub': { content: FAKE_UPDATE_GRUB, mode: 0o755 },
    });
  });
  afterEach(() => host.close());
  const ctx = (apply: boolean) => makeCtx(host, apply);
  const runs = async () =>
    (await readFile(join(host.dir, 'boot/update-grub.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;

  it('edits /etc/default/grub, runs update-grub once; dry run equals apply; then nothing to do', async () => {
    const { dry } = await expectConverges(grubCmdlineStep, { tokens: ['zcache', 'ramster'] }, ctx, host.dir);
    expect(dry).toMatchObject({
      action: 'update',
      summary: 'GRUB_CMDLINE_LINUX + zcache ramster; update-grub',
      rebootRequired: true,
    });
    expect(await runs()).toBe(1);
    expect(await readFile(join(host.dir, 'boot/grub/grub.cfg'), 'utf8')).toContain('ro zcache ramster quiet');
  });

  it('regenerates a stale or missing grub.cfg even when /etc/default/grub is already right', async () => {
    await grubCmdlineStep.checkApply({ tokens: ['zcache', 'ramster'] }, ctx(true));
    // An earlier run stopped after editing the file, before update-grub finished.
    await writeFile(
      join(host.dir, 'boot/grub/grub.cfg'),
      "menuentry 'Debian' {\n\tlinux\t/boot/vmlinuz-3.10.0 ro quiet\n}\n",
    );
    const { dry } = await expectConverges(grubCmdlineStep, { tokens: ['zcache', 'ramster'] }, ctx, host.dir);
    expect(dry).toMatchObject({ action: 'run', summary: '/boot/grub/grub.cfg is stale (zcache ramster); update-grub' });
    await rm(join(host.dir, 'boot/grub/grub.cfg'));
    expect((await grubCmdlineStep.checkApply({ tokens: ['zcache', 'ramster'] }, ctx(true))).summary).toBe(
      '/boot/grub/grub.cfg is missing; update-grub',
    );
    expect(await runs()).toBe(3);
  });
});
