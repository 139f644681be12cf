import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { APT_LOCK_WAIT_S, aptGet } from '../../../src/guestimage/apt.ts';
import { hostSourcesFile } from '../../../src/guestimage/image.ts';
import { BENCH_CACHE, FleetError } from './docker.ts';

/**
 * The fleet's Debian image: an mmdebstrap root filesystem (this machine's apt sources as the
 * mirror, no registry) imported into the local Docker daemon. Everything that shapes it is in
 * this file; the image tag carries a hash of it, so an edit here builds a new image.
 */
const SUITE = 'bookworm';
/** python3 for Ansible's modules; sudo for become tests. */
const PACKAGES = ['openssh-server', 'python3', 'sudo'];

/** Pristine copies of the files both playbooks edit (the reset puts them back). */
export const PRISTINE_DIR = '/usr/local/share/rp-bench';

const RC_LOCAL = `#!/bin/sh -e
#
# rc.local
#
# This script is executed at the end of each multiuser runlevel.
# Make sure that the script will "exit 0" on success or any other
# value on error.

exit 0
`;

const FSTAB = `# /etc/fstab: static file system information.
#
# <file system> <mount point>   <type>  <options>       <dump>  <pass>
proc            /proc           proc    defaults        0       0
`;

// Run by mmdebstrap on this machine with the root directory as $1.
const CUSTOMIZE = `set -eu
root="$1"
# Each container gets its own host key at start; none may be baked in.
rm -f "$root"/etc/ssh/ssh_host_*
install -d -m 755 "$root/run/sshd"
install -d -m 700 "$root/root/.ssh"
cat > "$root/etc/ssh/sshd_config.d/rp-bench.conf" <<'EOF'
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
MaxSessions 100
MaxStartups 100:30:200
EOF
# Directories a systemd Debian has, so Ansible's copy (which makes no parent directories) works.
install -d -m 755 "$root/etc/systemd/system" "$root/etc/default" "$root/etc/init.d"
cat > "$root/etc/rc.local" <<'EOF'
${RC_LOCAL}EOF
chmod 755 "$root/etc/rc.local"
cat > "$root/etc/fstab" <<'EOF'
${FSTAB}EOF
install -d -m 755 "$root${PRISTINE_DIR}"
cp -p "$root/etc/rc.local" "$root/etc/fstab" "$root${PRISTINE_DIR}/"
`;

// mmdebstrap leaves /run empty; sshd needs its privilege separation directory there.
const CMD = ['/bin/sh', '-c', 'mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e'];
const hash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);
export const ROOTFS_HASH = hash(JSON.stringify({ SUITE, PACKAGES, CUSTOMIZE }));
export const IMAGE_TAG = `ramster-provision-bench-host:${hash(JSON.stringify({ ROOTFS_HASH, CMD }))}`;

async function imageExists(tag: string): Promise<boolean> {
  return (await execa('docker', ['image', 'inspect', tag], { reject: false })).exitCode === 0;
}

/** Returns the image tag, building the root filesystem and importing it when missing. */
export async function ensureFleetImage(log: (line: string) => void): Promise<string> {
  if (await imageExists(IMAGE_TAG)) return IMAGE_TAG;
  mkdirSync(BENCH_CACHE, { recursive: true });
  const tar = join(BENCH_CACHE, `rootfs-${ROOTFS_HASH}.tar`);
  if (!existsSync(tar)) {
    if (process.getuid?.() !== 0)
      throw new FleetError(
        'building the fleet image needs root (mmdebstrap --mode=root)',
        'run the bench as root once; the image is cached',
      );
    if ((await execa('sh', ['-c', 'command -v mmdebstrap'], { reject: false })).exitCode !== 0) {
      log('installing mmdebstrap (apt-get)');
      await aptGet(['install', '-y', 'mmdebstrap'], {
        waitS: Number(process.env.APT_LOCK_WAIT) || APT_LOCK_WAIT_S,
        log,
      });
    }
    const debs = join(BENCH_CACHE, 'debs');
    const hook = join(BENCH_CACHE, 'customize.sh');
    writeFileSync(hook, CUSTOMIZE);
    const partial = `${tar}.partial.tar`;
    log(`building the fleet root filesystem with mmdebstrap (${SUITE}, ${PACKAGES.join(', ')}); cached in ${tar}`);
    const started = Date.now();
    const r = await execa(
      'mmdebstrap',
      [
        '--variant=apt',
        '--mode=root',
        `--include=${PACKAGES.join(',')}`,
        `--setup-hook=mkdir -p '${debs}' "$1/var/cache/apt/archives/"`,
        `--setup-hook=sync-in '${debs}' /var/cache/apt/archives/`,
        `--customize-hook=sync-out /var/cache/apt/archives '${debs}'`,
        `--customize-hook=sh '${hook}' "$1"`,
        SUITE,
        partial,
        hostSourcesFile(),
      ],
      { reject: false, all: true },
    );
    if (r.exitCode !== 0) {
      rmSync(partial, { force: true });
      throw new FleetError(
        `mmdebstrap failed:\n${r.all?.split('\n').slice(-15).join('\n')}`,
        'check that apt works on this machine (`apt-get update`)',
      );
    }
    renameSync(partial, tar);
    log(`root filesystem built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  log(`importing ${tar} as ${IMAGE_TAG}`);
  await execa('docker', ['import', '--change', `CMD ${JSON.stringify(CMD)}`, '--change', 'EXPOSE 22', tar, IMAGE_TAG]);
  return IMAGE_TAG;
}
