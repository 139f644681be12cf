import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageError } from './errors.ts';
import { grubCfgKernelArgs, staleTokens } from '../steps/ramster/grub.ts';

import { execInImage } from './chroot.ts';
import type { DiskLayout } from './disk.ts';
import { commandFailed, shq } from '../shell.ts';

/**
 * grub-probe as it would answer inside the booted image: `/` is ext4 (GRUB's `ext2` module) on
 * the first MBR partition of the first disk, with the layout's UUID. grub-mkconfig asks it
 * about `/`, `/boot` and the font; there is no real block device under a chroot to ask.
 */
export function fakeGrubProbe(layout: DiskLayout): string {
  const disk = layout.device.replace(/\d+$/, '');
  return `#!/bin/sh
# grub-probe for the disk ramster-provision image build is writing (${layout.device}).
target=device
while [ $# -gt 0 ]; do
  case "$1" in
    -t|--target) target=$2; shift ;;
    --target=*) target=\${1#--target=} ;;
  esac
  shift
done
case "$target" in
  device) echo ${layout.device} ;;
  disk) echo ${disk} ;;
  fs) echo ext2 ;;
  fs_uuid) echo ${layout.fsUuid} ;;
  fs_label) echo root ;;
  partuuid) echo ${layout.diskId}-01 ;;
  partmap) echo msdos ;;
  abstraction|cryptodisk_uuid) ;;
  drive) echo '(hd0,msdos1)' ;;
  compatibility_hint) echo hd0,msdos1 ;;
  bios_hints) echo '--hint-bios=hd0,msdos1' ;;
  hints_string) echo '--hint-bios=hd0,msdos1 --hint-efi=hd0,msdos1 --hint-baremetal=ahci0,msdos1' ;;
  msdos_parttype) echo 83 ;;
  *) echo "grub-probe (image build): no answer for --target=$target" >&2; exit 1 ;;
esac
`;
}

/** The partition is mounted at `/` in the booted image: a path is its own GRUB path. */
const FAKE_MKRELPATH = `#!/bin/sh
# grub-mkrelpath for the disk ramster-provision image build is writing: / is the partition root.
for a; do p=$a; done
echo "$p"
`;

export interface GrubConfig {
  /** GRUB_CMDLINE_LINUX of the image's /etc/default/grub. */
  cmdline: string[];
  /** Kernel command lines of the generated menu entries. */
  entries: string[][];
}

/**
 * Runs the image's own update-grub in the chroot, with grub-probe / grub-mkrelpath answering
 * for the disk being written (bind-mounted over the real ones in the command's private mount
 * namespace: the image keeps its own tools), and /dev/disk/by-uuid naming the partition so the
 * entries boot with root=UUID=…. Then checks every kernel entry carries GRUB_CMDLINE_LINUX —
 * what the playbook's grub step baked in really boots.
 */
export async function regenerateGrubCfg(rootfs: string, workDir: string, layout: DiskLayout): Promise<GrubConfig> {
  const probe = join(workDir, 'grub-probe');
  const relpath = join(workDir, 'grub-mkrelpath');
  writeFileSync(probe, fakeGrubProbe(layout), { mode: 0o755 });
  writeFileSync(relpath, FAKE_MKRELPATH, { mode: 0o755 });
  const dev = layout.device.replace(/^\/dev\//, '');
  const extraSetup = `
mount --bind ${shq(probe)} "$r/usr/sbin/grub-probe"
mount --bind ${shq(relpath)} "$r/usr/bin/grub-mkrelpath"
mkdir -p "$r/dev/disk/by-uuid"
: > "$r/dev/${dev}"
ln -s ../../${dev} "$r/dev/disk/by-uuid/${layout.fsUuid}"
`;
  const script = `set -e
[ -x /usr/sbin/update-grub ] || { echo 'update-grub is not installed in the image (package grub2-common)'; exit 3; }
update-grub 2>&1
echo '==cmdline=='
. /etc/default/grub
for f in /etc/default/grub.d/*.cfg; do if [ -e "$f" ]; then . "$f"; fi; done
printf '%s\\n' "\${GRUB_CMDLINE_LINUX:-}"
echo '==cfg=='
cat /boot/grub/grub.cfg`;
  const r = await execInImage(rootfs, script, { extraSetup, timeoutMs: 10 * 60_000 });
  if (r.code !== 0)
    throw new ImageError(commandFailed('update-grub in the image', r, { output: r.stdout + r.stderr, lines: 15 }));
  const [, afterCmd = ''] = r.stdout.split('==cmdline==\n');
  const [cmdText, cfg = ''] = afterCmd.split('==cfg==\n');
  const cmdline = cmdText.trim().split(/\s+/).filter(Boolean);
  const entries = grubCfgKernelArgs(cfg);
  if (!entries.length)
    throw new ImageError(
      'update-grub in the image wrote a grub.cfg without any kernel entry',
      'is a kernel installed in the image (/boot/vmlinuz-*)?',
    );
  const stale = entries.flatMap((args) => staleTokens(args, cmdline, []));
  if (stale.length)
    throw new ImageError(
      `the generated grub.cfg lacks ${[...new Set(stale)].join(' ')} of GRUB_CMDLINE_LINUX`,
      'check /etc/grub.d/10_linux in the image',
    );
  if (!entries.every((args) => args.includes(`root=UUID=${layout.fsUuid}`))) {
    throw new ImageError(
      `the generated grub.cfg does not boot root=UUID=${layout.fsUuid}:\n${entries.map((a) => a.join(' ')).join('\n')}`,
    );
  }
  return { cmdline, entries };
}
