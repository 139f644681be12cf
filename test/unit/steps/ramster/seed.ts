import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Debian 12's /etc/default/grub as installed (trimmed comments kept as they are). */
export const DEBIAN_DEFAULT_GRUB = `# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.
# For full documentation of the options in this file, see:
#   info -f grub -n 'Simple configuration'

GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=\`lsb_release -i -s 2> /dev/null || echo Debian\`
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX=""

# Uncomment to disable graphical terminal (grub-pc only)
#GRUB_TERMINAL=console
`;

const DEBUG_MOUNT = `[Unit]
Description=Kernel Debug File System
DefaultDependencies=no
ConditionPathExists=/sys/kernel/debug
Before=sysinit.target

[Mount]
What=debugfs
Where=/sys/kernel/debug
Type=debugfs
Options=nosuid,nodev,noexec
`;

/**
 * A folder that gatherFacts reads as a Debian 12 systemd host with GRUB 2: the minimal /etc
 * (os-release, hostname, default/grub) plus the few files facts and steps look for
 * (systemd binary, update-grub, sys-kernel-debug.mount, the rc-local generator).
 */
export function seedDebianRoot(root: string, hostname: string): void {
  const put = (path: string, content: string, mode = 0o644) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
    chmodSync(join(root, path), mode);
  };
  put(
    '/etc/os-release',
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
  );
  put('/etc/hostname', `${hostname}\n`);
  put('/etc/default/grub', DEBIAN_DEFAULT_GRUB);
  put('/lib/systemd/systemd', '', 0o755);
  put('/usr/sbin/update-grub', '#!/bin/sh\nexit 0\n', 0o755);
  put('/lib/systemd/system/sys-kernel-debug.mount', DEBUG_MOUNT);
  put('/lib/systemd/system-generators/systemd-rc-local-generator', '', 0o755);
  mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
}

/** Inventory text: two folder nodes `a` (node 0, system1) and `b` (node 1, system2) rooted in
 *  `dir`/a and `dir`/b, in one cluster with this `ramster:` section (YAML flow mapping);
 *  `vars` for all hosts and `hosts` (more top-level hosts) as YAML flow/indented text. */
export function twoFolderNodes(dir: string, ramster: string, opts: { vars?: string; hosts?: string } = {}): string {
  return `all:
${opts.vars ? `  vars: ${opts.vars}\n` : ''}  children:
    lab:
      ramster: ${ramster}
      hosts:
        a: {connection: local, root: ${dir}/a, number: 0, hostname: system1, cluster_address: 10.0.0.1}
        b: {connection: local, root: ${dir}/b, number: 1, hostname: system2, cluster_address: 10.0.0.2}
${opts.hosts ? `  hosts:\n${opts.hosts}` : ''}`;
}
