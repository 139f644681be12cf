/**
 * The lab guest image recipe: everything that shapes the cached Debian image lives in this file,
 * and the image cache is keyed by a hash of this file's source text (plus the lab's public key),
 * so any edit here rebuilds the image. The builder (image.ts) only runs what this file says.
 */


/** Debian releases a lab image can be: 12 (kernel 6.1) and 13 (kernel 6.12: NVMe in-band
 *  authentication, NVMe/TCP TLS). The sysvinit flavour (RAMster's 3.10) is Debian 12 only. */
export type Distro = 'bookworm' | 'trixie';
export const DISTROS: readonly Distro[] = ['bookworm', 'trixie'];
import { shq } from '../shell.ts';

/**
 * Two flavours of the same Debian 12 image:
 * - `systemd`: the default lab (Debian's 6.1 kernel and systemd 252);
 * - `sysvinit`: for the RAMster kernel (Linux 3.10): systemd 252 needs Linux >= 3.15, while
 *   glibc 2.36 and sysvinit run on 3.2+. It boots Debian's 6.1 kernel first, so the tool's kernel
 *   stage installs 3.10 the HOW-TO's way; networking is ifupdown with kernel NIC names (no udev
 *   renames, no MAC matching, which 3.10 without udev could not do).
 */
export type ImageFlavour = 'systemd' | 'sysvinit';

const INIT_PACKAGES: Record<ImageFlavour, string[]> = {
  systemd: ['systemd-sysv', 'dbus'],
  // e2fsprogs: sysvinit's checkroot runs fsck.ext4 for the root's fstab pass 1 (systemd skips it).
  sysvinit: ['sysvinit-core', 'ifupdown', 'e2fsprogs'],
};

/** Packages on top of `--variant=apt`: python3 lets Ansible run for the benchmark; mdadm is what
 *  the modern backend's mirrored swap (replicas: 2) installs, and lab guests have no network. */
export function imagePackages(flavour: ImageFlavour): string[] {
  return [...INIT_PACKAGES[flavour], ...COMMON_PACKAGES];
}

const COMMON_PACKAGES = [
  'udev',
  'openssh-server',
  'linux-image-amd64',
  'grub-pc',
  'iproute2',
  'iputils-ping',
  'sudo',
  'kmod',
  'procps',
  'nvme-cli',
  'mdadm',
  'rsync',
  'python3',
];

export const DISK_SIZE_MB = 3072;

/** Every guest's first NIC (user-mode network, one per QEMU process) has this MAC, so the
 *  image can match it by MAC; the private cluster NICs get per-guest MACs. */
export const NIC0_MAC = '52:54:00:12:34:56';

/** Name of the fw_cfg blob carrying the per-guest files (hostname, SSH host key, cluster net). */
export const FW_CFG_NAME = 'opt/ramster/lab-config.tar';

/** The user-mode NIC's address is always QEMU's default; the sysvinit flavour sets it statically. */
const SYSV_INTERFACES = `source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback

auto eth0
iface eth0 inet static
    address 10.0.2.15/24
    gateway 10.0.2.2
`;

/** Boot-time script baked into the image: applies the per-guest files QEMU hands over through
 *  fw_cfg once per distinct blob, so later edits by a playbook are not overwritten at reboot. */
const GUEST_CONFIG_SCRIPT = `#!/bin/sh
set -eu
modprobe qemu_fw_cfg 2>/dev/null || true
blob=/sys/firmware/qemu_fw_cfg/by_name/${FW_CFG_NAME}/raw
stamp=/var/lib/ramster-lab/applied.sha256
if [ -r "$blob" ]; then
  mkdir -p /var/lib/ramster-lab
  cat "$blob" > /run/ramster-lab-config.tar
  sum=$(sha256sum < /run/ramster-lab-config.tar | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$sum" ]; then
    tar -x -f /run/ramster-lab-config.tar -C /
    echo "$sum" > "$stamp"
  fi
  rm -f /run/ramster-lab-config.tar
fi
# Outside the lab (no fw_cfg blob) the guest still needs a host key for sshd to start.
[ -s /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
cat /etc/hostname > /proc/sys/kernel/hostname
`;

const GUEST_CONFIG_UNIT = `[Unit]
Description=Apply ramster-provision lab guest configuration (fw_cfg)
DefaultDependencies=no
After=local-fs.target systemd-remount-fs.service
Before=sysinit.target network-pre.target systemd-networkd.service ssh.service systemd-hostnamed.service
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/ramster-lab-config

[Install]
WantedBy=sysinit.target
`;

const GUEST_CONFIG_INIT = `#!/bin/sh
### BEGIN INIT INFO
# Provides:          ramster-lab-config
# Required-Start:    mountkernfs $local_fs
# Required-Stop:
# X-Start-Before:    networking ssh
# Default-Start:     S
# Default-Stop:
# Short-Description: Apply ramster-provision lab guest configuration (fw_cfg)
### END INIT INFO
[ "\${1:-}" = start ] || exit 0
exec /usr/local/sbin/ramster-lab-config
`;

/** The part of the customize hook that differs per init system. */
function initCustomize(flavour: ImageFlavour): string {
  if (flavour === 'systemd') {
    return `# Network: DHCP on the user-mode NIC; the cluster NIC's file comes per guest at boot.
printf '[Match]\\nMACAddress=${NIC0_MAC}\\n\\n[Network]\\nDHCP=ipv4\\n' > "$root/etc/systemd/network/10-lab-nic0.network"
in_root systemctl enable systemd-networkd.service
# Slow or noisy at boot under TCG.
in_root systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service systemd-networkd-wait-online.service
cat > "$root/etc/systemd/system/ramster-lab-config.service" <<'RAMSTER_LAB_EOF'
${GUEST_CONFIG_UNIT}RAMSTER_LAB_EOF
in_root systemctl enable ramster-lab-config.service`;
  }
  return `# Network: ifupdown, static on the user-mode NIC; the cluster NIC's stanza comes per guest at boot.
cat > "$root/etc/network/interfaces" <<'RAMSTER_LAB_EOF'
${SYSV_INTERFACES}RAMSTER_LAB_EOF
install -d "$root/etc/network/interfaces.d"
cat > "$root/etc/init.d/ramster-lab-config" <<'RAMSTER_LAB_EOF'
${GUEST_CONFIG_INIT}RAMSTER_LAB_EOF
chmod 755 "$root/etc/init.d/ramster-lab-config"
in_root update-rc.d ramster-lab-config defaults`;
}

/** Kernel parameters of every boot: the serial console; kernel NIC names on sysvinit. */
function bootParams(flavour: ImageFlavour): string {
  return flavour === 'systemd' ? 'console=ttyS0' : 'console=ttyS0 net.ifnames=0';
}

/** Customize hook, run on the host by mmdebstrap with the root directory as $1. */
export function customizeScript(authorizedKeyFile: string, flavour: ImageFlavour = 'systemd'): string {
  return `set -eu
root="$1"
in_root() { chroot "$root" "$@"; }

# Access: root logs in with the lab key; host keys come per guest at boot (none in the image).
install -d -m 700 "$root/root/.ssh"
install -m 600 ${shq(authorizedKeyFile)} "$root/root/.ssh/authorized_keys"
rm -f "$root"/etc/ssh/ssh_host_*
printf 'UseDNS no\\nHostKey /etc/ssh/ssh_host_ed25519_key\\n' > "$root/etc/ssh/sshd_config.d/ramster-lab.conf"
echo debian-lab > "$root/etc/hostname"
printf '127.0.0.1\\tlocalhost\\n127.0.1.1\\tdebian-lab\\n' > "$root/etc/hosts"
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
printf 'LABEL=root / ext4 errors=remount-ro 0 1\\n' > "$root/etc/fstab"

# Per-guest configuration from QEMU fw_cfg.
cat > "$root/usr/local/sbin/ramster-lab-config" <<'RAMSTER_LAB_EOF'
${GUEST_CONFIG_SCRIPT}RAMSTER_LAB_EOF
chmod 755 "$root/usr/local/sbin/ramster-lab-config"
${initCustomize(flavour)}

# Small initramfs: only what a virtio guest needs to mount its root.
printf 'virtio_pci\\nvirtio_blk\\nvirtio_net\\next4\\n' > "$root/etc/initramfs-tools/modules"
printf 'MODULES=list\\n' > "$root/etc/initramfs-tools/conf.d/ramster-lab.conf"
in_root update-initramfs -u -k all

# GRUB on the disk, without grub-install (no loop device): core.img + modules + a bootstrap
# grub.cfg; the disk step writes boot.img and core.img into the MBR gap. update-grub inside the
# guest later replaces grub.cfg.
echo 'grub-pc grub-pc/install_devices multiselect /dev/vda' | in_root debconf-set-selections
sed -i -e 's/^GRUB_TIMEOUT=.*/GRUB_TIMEOUT=0/' \\
  -e 's/^GRUB_CMDLINE_LINUX_DEFAULT=.*/GRUB_CMDLINE_LINUX_DEFAULT="${bootParams(flavour)}"/' "$root/etc/default/grub"
install -d "$root/boot/grub/i386-pc"
cp "$root"/usr/lib/grub/i386-pc/*.mod "$root"/usr/lib/grub/i386-pc/*.lst "$root/boot/grub/i386-pc/"
cp "$root/usr/lib/grub/i386-pc/boot.img" "$root/boot/grub/i386-pc/boot.img"
in_root grub-mkimage -O i386-pc -o /boot/grub/i386-pc/core.img -p '(hd0,msdos1)/boot/grub' biosdisk part_msdos ext2
kver=$(ls "$root/boot" | sed -n 's/^vmlinuz-//p' | sort -V | tail -n1)
cat > "$root/boot/grub/grub.cfg" <<EOF
set timeout=0
insmod part_msdos
insmod ext2
search --no-floppy --label --set=root root
linux /boot/vmlinuz-$kver root=LABEL=root ro ${bootParams(flavour)}
initrd /boot/initrd.img-$kver
boot
EOF
`;
}

/** Disk step, run on the host: partition table, ext4 filled from the rootfs at a 1 MiB offset,
 *  GRUB's boot.img in the MBR and core.img from sector 1. No loop device anywhere. */
export function diskScript(rootfs: string, out: string, flavour: ImageFlavour = 'systemd'): string {
  const fsKb = (DISK_SIZE_MB - 1) * 1024;
  // Linux 3.10 cannot load a journal with checksum v3, which metadata_csum (e2fsprogs 1.47's
  // default) brings: "EXT4-fs (vda1): error loading journal", then no root file system.
  const features = flavour === 'sysvinit' ? ' -O ^metadata_csum' : '';
  return `set -eu
rm -f ${shq(out)}
truncate -s ${DISK_SIZE_MB}M ${shq(out)}
printf 'label: dos\\nstart=2048, type=83, bootable\\n' | sfdisk -q ${shq(out)}
mkfs.ext4 -q -F -L root${features} -E offset=1048576 -d ${shq(rootfs)} ${shq(out)} ${fsKb}k
dd if=${shq(rootfs + '/boot/grub/i386-pc/boot.img')} of=${shq(out)} bs=440 count=1 conv=notrunc status=none
dd if=${shq(rootfs + '/boot/grub/i386-pc/core.img')} of=${shq(out)} bs=512 seek=1 conv=notrunc status=none
`;
}

/** mmdebstrap arguments; `debCache` keeps downloaded .debs warm between builds. */
export function mmdebstrapArgs(opts: { rootfs: string; hostSources: string; debCache: string; customizeFile: string; flavour?: ImageFlavour; distro?: Distro }): string[] {
  return [
    '--variant=apt',
    '--mode=root',
    '--skip=essential/unlink',
    `--include=${imagePackages(opts.flavour ?? 'systemd').join(',')}`,
    `--setup-hook=mkdir -p ${shq(opts.debCache)} "$1/var/cache/apt/archives/"`,
    `--setup-hook=sync-in ${shq(opts.debCache)} /var/cache/apt/archives/`,
    `--customize-hook=sync-out /var/cache/apt/archives ${shq(opts.debCache)}`,
    `--customize-hook=sh ${shq(opts.customizeFile)} "$1"`,
    opts.distro ?? 'bookworm',
    opts.rootfs,
    opts.hostSources,
  ];
}
