import { execa } from 'execa';
import { APT_LOCK_WAIT_S, aptGet } from './apt.ts';
import { ToolError } from './errors.ts';

export interface Tool {
  command: string;
  pkg: string;
}

/** Every command the lab and the image builds run on this machine, and the Debian package
 *  that provides it: one list, so the two never disagree on a package. */
const PACKAGE_OF: Record<string, string> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-img': 'qemu-utils',
  mmdebstrap: 'mmdebstrap',
  sfdisk: 'fdisk',
  'mkfs.ext4': 'e2fsprogs',
  ssh: 'openssh-client',
  'ssh-keygen': 'openssh-client',
  unshare: 'util-linux',
  chroot: 'coreutils',
  make: 'make',
  gcc: 'gcc',
  flex: 'flex',
  bison: 'bison',
  bc: 'bc',
  patch: 'patch',
  xz: 'xz-utils',
  'dpkg-buildpackage': 'dpkg-dev',
};

export function tools(...commands: string[]): Tool[] {
  return commands.map((command) => ({ command, pkg: PACKAGE_OF[command] }));
}

/** What building a guest disk image runs (mmdebstrap, partitioning, the key baked in). */
export const GUEST_IMAGE_TOOLS = tools('mmdebstrap', 'sfdisk', 'mkfs.ext4', 'ssh-keygen');

/** Commands the lab runs. */
export const LAB_TOOLS = [...tools('qemu-system-x86_64', 'qemu-img'), ...GUEST_IMAGE_TOOLS, ...tools('ssh')];

/** What `lab up --kernel ramster` adds: the lab inventory builds the kernel on this machine. */
export const KERNEL_BUILD_TOOLS = tools('make', 'gcc', 'flex', 'bison', 'bc', 'patch', 'xz', 'dpkg-buildpackage');

export interface PrerequisiteReport {
  missing: Tool[];
  installed: string[];
}

async function has(command: string): Promise<boolean> {
  const r = await execa('sh', ['-c', `command -v ${command}`], {
    reject: false,
    env: { PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` },
  });
  return r.exitCode === 0;
}

/** The tools whose command is not on PATH (sbin included), in order. */
export async function missingCommands<T extends { command: string }>(tools: readonly T[]): Promise<T[]> {
  const out: T[] = [];
  for (const t of tools) if (!(await has(t.command))) out.push(t);
  return out;
}

/** Checks the lab's tools; with `installDeps` (and root) installs the missing packages with
 *  apt-get, otherwise throws a ToolError naming the exact `apt-get install` line. */
export async function checkPrerequisites(
  installDeps: boolean,
  log: (line: string) => void = () => {},
  tools = LAB_TOOLS,
): Promise<PrerequisiteReport> {
  const missingTools = () => missingCommands(tools);
  let missing = await missingTools();
  const isRoot = process.getuid?.() === 0;
  const installed: string[] = [];
  if (missing.length && installDeps && isRoot) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))];
    log(`installing ${pkgs.join(' ')} with apt-get …`);
    // A new machine's own apt run holds apt's locks for its first minutes: wait (bounded) for it.
    const apt = { waitS: Number(process.env.APT_LOCK_WAIT) || APT_LOCK_WAIT_S, log };
    await aptGet(['update', '-qq'], apt);
    await aptGet(['install', '-y', '-qq', '--no-install-recommends', ...pkgs], apt);
    installed.push(...pkgs);
    missing = await missingTools();
  }
  if (missing.length) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))].join(' ');
    throw new ToolError(
      `the lab needs ${missing.map((m) => m.command).join(', ')}, which ${missing.length > 1 ? 'are' : 'is'} not installed`,
      isRoot ? `run \`apt-get install ${pkgs}\`, or pass --install-deps` : `run \`sudo apt-get install ${pkgs}\``,
    );
  }
  if (!isRoot) {
    throw new ToolError(
      'building the lab image needs root (mmdebstrap --mode=root writes device nodes and owners)',
      'run the lab as root',
    );
  }
  return { missing, installed };
}
