import { hostPath, type Transport } from './types.ts';
import { runFrames } from './fileops.ts';
import { bodyLines, type Frames } from '../frame.ts';
import { shq } from '../shell.ts';

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

/** One remote command that prints every fact as a frame (src/frame.ts) named after it, its
 *  value the body. Paths go through hostPath, so facts of a folder (image build) describe the
 *  folder's OS and never read outside it. os-release is PARSED (three keys, one line each),
 *  never sourced: it is the target's data. */
export function factsScript(t: Pick<Transport, 'root'>): string {
  const p = (path: string) => shq(hostPath(t, path));
  const folder = t.root !== '';
  return `
rp_fact() { rp_frame "$1"; printf '%s\\n' "$2"; }
rp_fact arch "$(uname -m)"
if [ -r ${p('/etc/os-release')} ]; then
  while IFS= read -r l || [ -n "$l" ]; do case $l in ID=*) rp_fact id "\${l#ID=}";; ID_LIKE=*) rp_fact id_like "\${l#ID_LIKE=}";; VERSION_ID=*) rp_fact version_id "\${l#VERSION_ID=}";; esac; done < ${p('/etc/os-release')}
fi
[ -r ${p('/etc/redhat-release')} ] && rp_fact redhat_release 1
rp_fact kernel "$(uname -r)"
${folder ? `if [ -e ${p('/lib/systemd/systemd')} ] || [ -e ${p('/usr/lib/systemd/systemd')} ]; then rp_fact init systemd` : 'if [ -d /run/systemd/system ]; then rp_fact init systemd'}
elif [ -e ${p('/sbin/init')} ] || [ -e ${p('/etc/inittab')} ]; then rp_fact init sysvinit; else rp_fact init unknown; fi
if [ -e ${p('/usr/sbin/grubby')} ] && [ -e ${p('/boot/grub/grub.conf')} ]; then rp_fact boot grub-legacy
elif [ -e ${p('/usr/sbin/update-grub')} ] || [ -e ${p('/usr/sbin/grub2-mkconfig')} ] || [ -e ${p('/usr/sbin/grub-mkconfig')} ] || [ -d ${p('/boot/grub2')} ]; then rp_fact boot grub2
elif [ -e ${p('/boot/grub/grub.conf')} ]; then rp_fact boot grub-legacy
else rp_fact boot none; fi
${['apt-get', 'dnf', 'yum'].map((pm) => `if [ -x ${p(`/usr/bin/${pm}`)} ]; then rp_fact pm ${pm}; fi`).join('\n')}
${folder ? `rp_fact hostname "$(head -n 1 ${p('/etc/hostname')} 2>/dev/null)"` : 'rp_fact hostname "$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)"'}
rp_fact boot_id "$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)"
rp_fact user "$(id -un)"
`;
}

export async function gatherFacts(t: Transport): Promise<Facts> {
  return parseFacts(await runFrames(t, factsScript(t), 'gather facts'));
}

const OS_RELEASE_KEYS = new Set(['id', 'id_like', 'version_id']);

export function parseFacts(frames: Frames): Facts {
  const kv = new Map<string, string>();
  for (const { name, body } of frames.list) {
    const value = bodyLines(body)[0] ?? '';
    kv.set(name, OS_RELEASE_KEYS.has(name) ? osReleaseValue(value) : value.trim());
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

/** A value of os-release (a shell-style assignment), read as data: quotes removed, `\\x`
 *  escapes resolved inside double quotes, nothing expanded. */
export function osReleaseValue(raw: string): string {
  const v = raw.trim();
  const dq = /^"((?:[^"\\]|\\.)*)"$/.exec(v);
  if (dq) return dq[1].replace(/\\(.)/g, '$1');
  const sq = /^'([^']*)'$/.exec(v);
  return sq ? sq[1] : v;
}
