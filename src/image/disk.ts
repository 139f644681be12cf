import { randomBytes, randomUUID } from 'node:crypto';
import { runCommand } from '../guestimage/command.ts';
import { ImageError } from './errors.ts';
import { DISK_SIZE_MB } from '../guestimage/recipe.ts';
import { shq } from '../shell.ts';

/**
 * The disk an image is written to, decided before grub.cfg is generated so the config names
 * the real file system: one bootable MBR partition from 1 MiB, ext4 labelled `root` with a
 * known UUID, GRUB's boot.img in the MBR and core.img in the gap after it — the lab's layout
 * (recipe.ts), with the identifiers fixed up front.
 */
export interface DiskLayout {
  sizeMb: number;
  /** ext4 UUID: `root=UUID=…` and GRUB's `search --fs-uuid`. */
  fsUuid: string;
  /** MBR disk identifier (8 hex digits): PARTUUID is `<id>-01`. */
  diskId: string;
  /** The partition as the booted image sees it (virtio disk). */
  device: string;
}

export const PARTITION_OFFSET = 1024 * 1024;

export function newDiskLayout(sizeMb = DISK_SIZE_MB): DiskLayout {
  if (!Number.isInteger(sizeMb) || sizeMb < 512)
    throw new ImageError(`--size must be at least 512 (MiB), got ${sizeMb}`);
  return { sizeMb, fsUuid: randomUUID(), diskId: randomBytes(4).toString('hex'), device: '/dev/vda1' };
}

/** Fails early, with the fix, when the root filesystem cannot fit (mkfs would say less). */
export async function checkFits(rootfs: string, layout: DiskLayout): Promise<void> {
  const out = await runCommand('du', ['-s', '-k', '-x', rootfs], 'measuring the root filesystem');
  const usedKb = Number(out.split(/\s/)[0]);
  const fsKb = (layout.sizeMb - 1) * 1024;
  // ext4 metadata (inode tables, journal) takes roughly a tenth of a small disk.
  if (usedKb > fsKb * 0.85) {
    const need = Math.ceil((usedKb / 0.85 / 1024 + 1) / 256) * 256;
    throw new ImageError(
      `the root filesystem (${Math.round(usedKb / 1024)} MiB) does not fit a ${layout.sizeMb} MiB disk`,
      `use --size ${need} or more`,
    );
  }
}

/** Raw disk from the rootfs, no loop device: partition table, ext4 filled with mkfs -d at the
 *  partition's offset, then GRUB's boot.img and core.img (made by the lab recipe) put in place. */
export function rawDiskScript(rootfs: string, out: string, layout: DiskLayout): string {
  const fsKb = (layout.sizeMb - 1) * 1024;
  const grub = `${rootfs}/boot/grub/i386-pc`;
  return `set -eu
rm -f ${shq(out)}
truncate -s ${layout.sizeMb}M ${shq(out)}
printf 'label: dos\\nlabel-id: 0x${layout.diskId}\\nstart=2048, type=83, bootable\\n' | sfdisk -q ${shq(out)}
mkfs.ext4 -q -F -L root -U ${layout.fsUuid} -E offset=${PARTITION_OFFSET} -d ${shq(rootfs)} ${shq(out)} ${fsKb}k
dd if=${shq(`${grub}/boot.img`)} of=${shq(out)} bs=440 count=1 conv=notrunc status=none
dd if=${shq(`${grub}/core.img`)} of=${shq(out)} bs=512 seek=1 conv=notrunc status=none
`;
}

export async function writeRawDisk(rootfs: string, out: string, layout: DiskLayout): Promise<void> {
  await runCommand('sh', ['-c', rawDiskScript(rootfs, out, layout)], 'writing the disk image', {
    timeoutMs: 20 * 60_000,
  });
}

export type DiskFormat = 'qcow2' | 'raw';

/** The output format from the file name: `.qcow2`, or `.raw` / `.img` for a raw disk. */
export function formatOf(output: string): DiskFormat {
  if (/\.qcow2$/i.test(output)) return 'qcow2';
  if (/\.(raw|img)$/i.test(output)) return 'raw';
  throw new ImageError(
    `cannot tell the disk format of ${output}`,
    'name the output *.qcow2 (QEMU copy-on-write) or *.raw / *.img (raw disk)',
  );
}

export async function convertToQcow2(raw: string, out: string): Promise<void> {
  await runCommand('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, out], 'qemu-img convert', {
    timeoutMs: 20 * 60_000,
  });
}
