import { execa } from 'execa';
import { ChrootTransport } from '../transport/chroot.ts';
import { LocalProcesses } from '../transport/processes.ts';
import type { ExecOptions, ExecResult } from '../transport/types.ts';

/**
 * Mounts every command of an image build needs, made inside a private mount namespace of its
 * own (`unshare --mount`): the host never sees them, and the kernel drops them when the command
 * ends — also when the build is killed — so nothing stays mounted in the rootfs and removing
 * the work directory can never reach the host's /dev or /proc.
 *
 * - /proc: a proc instance, with /proc/sys and /proc/sysrq-trigger read-only (no host tuning,
 *   no host reboot from a step);
 * - /sys: read-only sysfs (steps that write sysfs skip image targets anyway);
 * - /dev: a small tmpfs with the usual character devices and a private devpts — no host disks;
 * - /run: a tmpfs with /run/systemd/system, as on the booted image: tools (and the facts) see
 *   systemd as the init; with SYSTEMD_OFFLINE=1 systemctl edits unit links offline and ignores
 *   start/stop ("Running in chroot, ignoring command"). It cannot find out it is chrooted by
 *   itself where /proc/1/root is not readable (containers), and would look for a bus.
 */
const MOUNTS = `set -eu
r=$1
trap 'echo "image build: preparing the mounts of the chroot failed (see above)" >&2' EXIT
mount -t proc -o nosuid,nodev,noexec proc "$r/proc"
for p in sys sysrq-trigger; do if [ -e "$r/proc/$p" ]; then mount --bind "$r/proc/$p" "$r/proc/$p"; mount -o remount,bind,ro "$r/proc/$p"; fi; done
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$r/sys"
mount -t tmpfs -o mode=0755,nosuid,size=16m tmpfs "$r/dev"
mknod -m 666 "$r/dev/null" c 1 3; mknod -m 666 "$r/dev/zero" c 1 5; mknod -m 666 "$r/dev/full" c 1 7
mknod -m 666 "$r/dev/random" c 1 8; mknod -m 666 "$r/dev/urandom" c 1 9; mknod -m 666 "$r/dev/tty" c 5 0
ln -s /proc/self/fd "$r/dev/fd"; ln -s /proc/self/fd/0 "$r/dev/stdin"; ln -s /proc/self/fd/1 "$r/dev/stdout"; ln -s /proc/self/fd/2 "$r/dev/stderr"
mkdir "$r/dev/pts" "$r/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$r/dev/pts"; ln -s pts/ptmx "$r/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$r/dev/shm"
mount -t tmpfs -o mode=0755,nosuid,nodev,size=16m tmpfs "$r/run"
mkdir -p "$r/run/systemd/system" "$r/run/lock"
`;

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ImageExecOptions extends ExecOptions {
  /** More shell run after the standard mounts, with the rootfs path in "$r" (e.g. bind mounts). */
  extraSetup?: string;
}

/** Runs `sh -c script` chrooted into `rootfs`, with the mounts above in a private namespace.
 *  A failed mount ends the command with the mount's message, before the script runs. */
export async function execInImage(
  rootfs: string,
  script: string,
  opts: ImageExecOptions = {},
  procs = new LocalProcesses(),
): Promise<ExecResult> {
  const setup = `${MOUNTS}${opts.extraSetup ?? ''}\ntrap - EXIT\nset +eu\nexec chroot "$r" /bin/sh -c "$2"`;
  return procs.run(`chroot:${rootfs}`, opts, (detached) =>
    execa(
      'unshare',
      ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', setup, 'ramster-image', rootfs, script],
      {
        ...detached,
        input: opts.stdin,
        timeout: opts.timeoutMs,
        reject: false,
        stripFinalNewline: false,
        env: { LC_ALL: 'C', PATH, SYSTEMD_OFFLINE: '1' },
        extendEnv: false,
      },
    ),
  );
}

/** systemctl's own words when it skips a verb in a chroot, e.g. "ignoring command 'start'". */
const IGNORED = /Running in chroot, ignoring (?:command '([\w-]+)'|request)/g;

/** Verbs that only read state: skipping them in a chroot defers nothing. */
const READ_ONLY = new Set([
  'is-active',
  'is-failed',
  'status',
  'show',
  'cat',
  'list-units',
  'list-jobs',
  'daemon-reload',
  'daemon-reexec',
]);

/**
 * The chroot transport of an image build: the project's ChrootTransport with the command
 * wrapped as above. It also notes what systemctl declined to do because no init runs in a
 * chroot (start, restart, …), so the build can say which actions only happen at boot.
 */
export class ImageChrootTransport extends ChrootTransport {
  private ignored: string[] = [];

  override async exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.roundTrips++;
    const r = await execInImage(this.dir, script, opts, this.procs);
    for (const m of r.stderr.matchAll(IGNORED)) {
      const verb = m[1] ?? 'request';
      if (!READ_ONLY.has(verb)) this.ignored.push(`systemctl ${verb}`);
    }
    return r;
  }

  /** What systemctl skipped since the last call (then forgets it). */
  takeIgnored(): string[] {
    const out = [...new Set(this.ignored)];
    this.ignored = [];
    return out;
  }
}
