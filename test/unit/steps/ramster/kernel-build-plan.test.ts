import { describe, expect, it } from 'vitest';
import { grubDefaultCheck, grubEntryFor, parseGrubEntries } from '../../../../src/kernel/grub-entries.ts';
import { checkDefault, parseNodeReading } from '../../../../src/steps/ramster/kernel-install.ts';
import { framesOf } from '../../../helpers/frames.ts';
import {
  buildKey,
  decideBuild,
  packageFormat,
  parseKeyFile,
  parseManifest,
  renderKeyFile,
  type KeyInputs,
} from '../../../../src/kernel/plan.ts';
import { parseKernelSource } from '../../../../src/kernel/source.ts';
import { LocalTransport } from '../../../../src/transport/local.ts';

const inputs: KeyInputs = {
  format: 'deb',
  revision: 'git 0123456789abcdef0123456789abcdef01234567',
  config: 'CONFIG_RAMSTER=y\n',
  patches: [{ name: 'wasactive.patch', content: '--- a/mm/x.c\n+++ b/mm/x.c\n' }],
};

describe('build key', () => {
  it('is 16 hex digits, stable for the same inputs', () => {
    expect(buildKey(inputs)).toMatch(/^[0-9a-f]{16}$/);
    expect(buildKey({ ...inputs, config: Buffer.from('CONFIG_RAMSTER=y\n') })).toBe(buildKey(inputs));
  });

  it('changes with the source revision, the merged config, each patch, their order and the package format', () => {
    const key = buildKey(inputs);
    const other = [
      { ...inputs, revision: 'git 1123456789abcdef0123456789abcdef01234567' },
      { ...inputs, config: 'CONFIG_RAMSTER=y\nCONFIG_ZCACHE_DEBUG=y\n' },
      { ...inputs, patches: [] },
      { ...inputs, patches: [{ name: 'wasactive.patch', content: '--- a/mm/x.c\n+++ b/mm/x.c\n ' }] },
      { ...inputs, patches: [...inputs.patches, { name: 'b.patch', content: 'b' }] },
      { ...inputs, patches: [{ name: 'b.patch', content: 'b' }, ...inputs.patches] },
      { ...inputs, format: 'rpm' as const },
    ].map(buildKey);
    expect(new Set([key, ...other]).size).toBe(other.length + 1);
  });
});

describe('build / install decision', () => {
  const node = (host: string, key?: string) => ({
    host,
    installed: key ? { key, release: '3.10.108', package: 'p.deb' } : undefined,
  });

  it('fresh cluster, nothing cached: build once, install on every node', () => {
    expect(decideBuild('k1', false, [node('n1'), node('n2')])).toEqual({ build: true, install: ['n1', 'n2'] });
  });

  it('package cached for the key: no build, install where another key (or none) is installed', () => {
    expect(decideBuild('k1', true, [node('n1', 'k1'), node('n2', 'k0'), node('n3')])).toEqual({
      build: false,
      install: ['n2', 'n3'],
    });
  });

  it('every node has the key: nothing, even when the build cache was deleted', () => {
    expect(decideBuild('k1', true, [node('n1', 'k1'), node('n2', 'k1')])).toEqual({ build: false, install: [] });
    expect(decideBuild('k1', false, [node('n1', 'k1'), node('n2', 'k1')])).toEqual({ build: false, install: [] });
  });

  it('a new key (config or patch changed) rebuilds and reinstalls everywhere', () => {
    expect(decideBuild('k2', false, [node('n1', 'k1'), node('n2', 'k1')])).toEqual({
      build: true,
      install: ['n1', 'n2'],
    });
  });

  it('package format follows the nodes; a mixed cluster is refused with the hosts named', () => {
    expect(
      packageFormat(
        new Map([
          ['a', 'debian'],
          ['b', 'debian'],
        ]),
      ),
    ).toBe('deb');
    expect(packageFormat(new Map([['a', 'redhat']]))).toBe('rpm');
    expect(() =>
      packageFormat(
        new Map([
          ['a', 'debian'],
          ['b', 'redhat'],
        ]),
      ),
    ).toThrow('the cluster mixes distribution families (deb: a; rpm: b)');
    expect(() => packageFormat(new Map([['a', 'suse']]))).toThrow(
      'a runs a suse distribution: kernel_build makes Debian (bindeb-pkg) or Red Hat (binrpm-pkg) packages only',
    );
  });
});

describe('manifest and key file', () => {
  const sha = 'a'.repeat(64);
  it('parses what the build script writes; the image must be one of the files', () => {
    const text = `release 3.10.108\nformat deb\nimage linux-image-3.10.108_3.10.108-rp.x_amd64.deb\nfile ${sha} 123 linux-image-3.10.108_3.10.108-rp.x_amd64.deb\nfile ${'b'.repeat(64)} 45 linux-libc-dev_3.10.108-rp.x_amd64.deb\n`;
    expect(parseManifest(text)).toEqual({
      release: '3.10.108',
      format: 'deb',
      image: { name: 'linux-image-3.10.108_3.10.108-rp.x_amd64.deb', sha256: sha, size: 123 },
      files: [
        { name: 'linux-image-3.10.108_3.10.108-rp.x_amd64.deb', sha256: sha, size: 123 },
        { name: 'linux-libc-dev_3.10.108-rp.x_amd64.deb', sha256: 'b'.repeat(64), size: 45 },
      ],
    });
    expect(parseManifest(text.replace('image linux-image', 'image missing'))).toBeUndefined();
    expect(parseManifest('')).toBeUndefined();
  });

  it('key file round trip', () => {
    const text = renderKeyFile({ key: 'abc', release: '3.10.108', package: 'p.deb', source: '/usr/src/linux' });
    expect(text).toMatch(/^# Written by ramster-provision/);
    expect(parseKeyFile(text)).toEqual({ key: 'abc', release: '3.10.108', package: 'p.deb' });
    expect(parseKeyFile('release=1\n')).toBeUndefined();
  });
});

describe('kernel source argument (after interpolation)', () => {
  it('accepts a path, {path}, {git, ref} and {tarball}', () => {
    expect(parseKernelSource('/usr/src/linux/')).toEqual({ kind: 'path', path: '/usr/src/linux' });
    expect(parseKernelSource({ path: '/usr/src/linux' })).toEqual({ kind: 'path', path: '/usr/src/linux' });
    expect(parseKernelSource({ git: 'https://example.org/linux.git', ref: 'v3.10.108' })).toEqual({
      kind: 'git',
      url: 'https://example.org/linux.git',
      ref: 'v3.10.108',
    });
    expect(parseKernelSource({ tarball: 'https://example.org/linux-3.10.tar.xz' })).toEqual({
      kind: 'tarball',
      location: 'https://example.org/linux-3.10.tar.xz',
    });
  });
  it('rejects the rest with the accepted shapes', () => {
    expect(() => parseKernelSource('linux')).toThrow(/not an absolute path; give source as a path/);
    expect(() => parseKernelSource({ git: 'u' })).toThrow(/is not understood; give source as a path/);
    expect(() => parseKernelSource({ git: 'u', ref: '--upload-pack=x' })).toThrow(
      'git ref "--upload-pack=x" is not a tag, branch or commit name',
    );
    expect(() => parseKernelSource({ tarball: 'relative.tar' })).toThrow(/is not understood/);
  });
});

// A grub.cfg as Debian 12's grub-mkconfig writes it (entries trimmed to their first line).
const GRUB_CFG = `### BEGIN /etc/grub.d/10_linux ###
menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-simple-1b2c' {
	load_video
}
submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-1b2c' {
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-18-amd64' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-6.1.0-18-amd64-advanced-1b2c' {
	}
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-18-amd64 (recovery mode)' --class debian $menuentry_id_option 'gnulinux-6.1.0-18-amd64-recovery-1b2c' {
	}
	menuentry 'Debian GNU/Linux, with Linux 3.10.108' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-3.10.108-advanced-1b2c' {
	}
}
menuentry 'UEFI Firmware Settings' $menuentry_id_option 'uefi-firmware' {
}
`;

describe('GRUB default entry', () => {
  it('parses entries with their submenu', () => {
    const e = parseGrubEntries(GRUB_CFG);
    expect(e.map((x) => [x.id, x.parent?.id])).toEqual([
      ['gnulinux-simple-1b2c', undefined],
      ['gnulinux-6.1.0-18-amd64-advanced-1b2c', 'gnulinux-advanced-1b2c'],
      ['gnulinux-6.1.0-18-amd64-recovery-1b2c', 'gnulinux-advanced-1b2c'],
      ['gnulinux-3.10.108-advanced-1b2c', 'gnulinux-advanced-1b2c'],
      ['uefi-firmware', undefined],
    ]);
  });

  it('finds the normal entry of a release as id and title paths; a release GRUB does not list is undefined', () => {
    expect(grubEntryFor(GRUB_CFG, '3.10.108')).toEqual({
      idPath: 'gnulinux-advanced-1b2c>gnulinux-3.10.108-advanced-1b2c',
      titlePath: 'Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 3.10.108',
    });
    expect(grubEntryFor(GRUB_CFG, '3.10.10')).toBeUndefined(); // no prefix match
    expect(grubEntryFor(GRUB_CFG, '3.4.0')).toBeUndefined();
  });

  it('is the default only with GRUB_DEFAULT=saved and the entry saved (or GRUB_DEFAULT naming it)', () => {
    const want = 'gnulinux-advanced-1b2c>gnulinux-3.10.108-advanced-1b2c';
    expect(grubDefaultCheck({ grubDefault: '0', savedEntry: '', cfg: GRUB_CFG }, '3.10.108')).toEqual({
      ok: false,
      entry: want,
      was: 'GRUB_DEFAULT=0',
    });
    expect(
      grubDefaultCheck({ grubDefault: 'saved', savedEntry: 'gnulinux-simple-1b2c', cfg: GRUB_CFG }, '3.10.108'),
    ).toEqual({
      ok: false,
      entry: want,
      was: 'saved: gnulinux-simple-1b2c',
    });
    expect(grubDefaultCheck({ grubDefault: 'saved', savedEntry: want, cfg: GRUB_CFG }, '3.10.108').ok).toBe(true);
    expect(
      grubDefaultCheck(
        {
          grubDefault: 'saved',
          savedEntry: 'Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 3.10.108',
          cfg: GRUB_CFG,
        },
        '3.10.108',
      ).ok,
    ).toBe(true);
    expect(grubDefaultCheck({ grubDefault: want, savedEntry: '', cfg: GRUB_CFG }, '3.10.108').ok).toBe(true);
  });

  it('reads a node: key file trusted only while its kernel is owned by a package; boot loader state', () => {
    const key = '@key\nkey=k1\nrelease=3.10.108\npackage=p.deb\n';
    const grub = `@loader grub\n@grub_default\n"saved"\n@saved_entry\ngnulinux-simple-1b2c\n@cfg\n${GRUB_CFG}`;
    const owned = parseNodeReading(framesOf(`${key}@owned\n${grub}`));
    expect(owned.installed).toEqual({ key: 'k1', release: '3.10.108', package: 'p.deb' });
    expect(owned.grub?.grubDefault).toBe('saved');
    expect(checkDefault(new LocalTransport(), owned, '3.10.108')).toEqual({
      ok: false,
      was: 'saved: gnulinux-simple-1b2c',
    });
    expect(checkDefault(new LocalTransport('/srv/image'), owned, '3.10.108')).toEqual({
      na: 'local:/srv/image is an image: its boot loader picks the newest kernel when it is installed',
    });
    expect(parseNodeReading(framesOf(`${key}${grub}`))).toMatchObject({
      installed: undefined,
      recorded: { key: 'k1', release: '3.10.108' },
    }); // package removed by hand
    const el = parseNodeReading(framesOf('@loader grubby\n@grubby_default\n/boot/vmlinuz-3.10.108\n'));
    expect(checkDefault(new LocalTransport(), el, '3.10.108')).toEqual({ ok: true });
    expect(checkDefault(new LocalTransport(), el, '3.9.11')).toEqual({ ok: false, was: '/boot/vmlinuz-3.10.108' });
    expect(checkDefault(new LocalTransport(), parseNodeReading(framesOf('@loader none\n')), '3.10.108')).toEqual({
      na: 'no GRUB or grubby found: the default boot entry is not set',
    });
  });
});
