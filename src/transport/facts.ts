import type { Transport } from './types.ts';
import { run } from './fileops.ts';

export interface Facts {
  arch: string;
  os_family: 'debian' | 'redhat' | 'suse' | 'unknown';
  distro: string; // ID from os-release, e.g. debian, rhel, centos
  distro_version: string; // VERSION_ID
  kernel_release: string; // uname -r
  init_system: 'systemd' | 'sysvinit' | 'unknown';
  boot_loader: 'grub2' | 'grub-legacy' | 'none' | 'unknown';
  package_manager: 'apt' | 'dnf' | 'yum' | 'unknown';
  hostname: string;
  boot_id: string;
  user: string;
}

/** One remote command that prints every fact as key=value lines. Paths honour the
 *  transport's root, so facts of a folder (image build) describe the folder's OS. */
export const FACTS_SCRIPT = `
R="\${ROOT:-}"
echo "arch=$(uname -m)"
if [ -r "$R/etc/os-release" ]; then . "$R/etc/os-release"; fi
echo "id=\${ID:-}"; echo "id_like=\${ID_LIKE:-}"; echo "version_id=\${VERSION_ID:-}"
[ -r "$R/etc/redhat-release" ] && echo "redhat_release=1"
echo "kernel=$(uname -r)"
if [ -z "$R" ] && [ -d /run/systemd/system ]; then echo init=systemd
elif [ -n "$R" ] && [ -e "$R/lib/systemd/systemd" -o -e "$R/usr/lib/systemd/systemd" ]; then echo init=systemd
elif [ -e "$R/sbin/init" ] || [ -e "$R/etc/inittab" ]; then echo init=sysvinit; else echo init=unknown; fi
if [ -e "$R/usr/sbin/grubby" ] && [ -e "$R/boot/grub/grub.conf" ]; then echo boot=grub-legacy
elif [ -e "$R/usr/sbin/update-grub" ] || [ -e "$R/usr/sbin/grub2-mkconfig" ] || [ -e "$R/usr/sbin/grub-mkconfig" ] || [ -d "$R/boot/grub2" ]; then echo boot=grub2
elif [ -e "$R/boot/grub/grub.conf" ]; then echo boot=grub-legacy
else echo boot=none; fi
for pm in apt-get dnf yum; do if [ -x "$R/usr/bin/$pm" ]; then echo "pm=$pm"; break; fi; done
if [ -n "$R" ]; then echo "hostname=$(cat "$R/etc/hostname" 2>/dev/null)"; else echo "hostname=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)"; fi
echo "boot_id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)"
echo "user=$(id -un)"
`;

export async function gatherFacts(t: Transport): Promise<Facts> {
  return parseFacts(await run(t, FACTS_SCRIPT, 'gather facts'));
}

export function parseFacts(out: string): Facts {
  const kv = new Map<string, string>();
  for (const line of out.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  const id = kv.get('id') ?? '';
  const like = `${id} ${kv.get('id_like') ?? ''}`;
  const os_family = /debian|ubuntu/.test(like)
    ? 'debian'
    : /rhel|fedora|centos/.test(like) || kv.has('redhat_release')
      ? 'redhat'
      : /suse/.test(like)
        ? 'suse'
        : 'unknown';
  const pm = kv.get('pm');
  return {
    arch: kv.get('arch') ?? '',
    os_family,
    distro: id,
    distro_version: kv.get('version_id') ?? '',
    kernel_release: kv.get('kernel') ?? '',
    init_system: (kv.get('init') as Facts['init_system']) ?? 'unknown',
    boot_loader: (kv.get('boot') as Facts['boot_loader']) ?? 'unknown',
    package_manager: pm === 'apt-get' ? 'apt' : pm === 'dnf' ? 'dnf' : pm === 'yum' ? 'yum' : 'unknown',
    hostname: kv.get('hostname') ?? '',
    boot_id: kv.get('boot_id') ?? '',
    user: kv.get('user') ?? '',
  };
}
