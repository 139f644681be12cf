import { execa } from 'execa';
import { APT_LOCK_WAIT_S, aptGet } from './apt.ts';
import { LabError } from './errors.ts';

/** Commands the lab runs, and the Debian package that provides each. */
export const LAB_TOOLS: { command: string; pkg: string }[] = [
  { command: 'qemu-system-x86_64', pkg: 'qemu-system-x86' },
  { command: 'qemu-img', pkg: 'qemu-utils' },
  { command: 'mmdebstrap', pkg: 'mmdebstrap' },
  { command: 'sfdisk', pkg: 'fdisk' },
  { command: 'mkfs.ext4', pkg: 'e2fsprogs' },
  { command: 'ssh', pkg: 'openssh-client' },
  { command: 'ssh-keygen', pkg: 'openssh-client' },
];

/** What `lab up --kernel ramster` adds: the lab inventory builds the kernel on this machine. */
export const KERNEL_BUILD_TOOLS: { command: string; pkg: string }[] = [
  { command: 'make', pkg: 'make' },
  { command: 'gcc', pkg: 'gcc' },
  { command: 'flex', pkg: 'flex' },
  { command: 'bison', pkg: 'bison' },
  { command: 'bc', pkg: 'bc' },
  { command: 'patch', pkg: 'patch' },
  { command: 'xz', pkg: 'xz-utils' },
  { command: 'dpkg-buildpackage', pkg: 'dpkg-dev' },
];

export interface PrerequisiteReport {
  missing: { command: string; pkg: string }[];
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
 *  apt-get, otherwise throws a LabError naming the exact `apt-get install` line. */
export async function checkPrerequisites(installDeps: boolean, log: (line: string) => void = () => {}, tools = LAB_TOOLS): Promise<PrerequisiteReport> {
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
    throw new LabError(
      `the lab needs ${missing.map((m) => m.command).join(', ')}, which ${missing.length > 1 ? 'are' : 'is'} not installed`,
      isRoot ? `run \`apt-get install ${pkgs}\`, or pass --install-deps` : `run \`sudo apt-get install ${pkgs}\``,
    );
  }
  if (!isRoot) {
    throw new LabError('building the lab image needs root (mmdebstrap --mode=root writes device nodes and owners)', 'run the lab as root');
  }
  return { missing, installed };
}
