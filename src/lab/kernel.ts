import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from './errors.ts';
import { REPO_ROOT } from '../guestimage/paths.ts';

/** Which kernel the lab's guests end up on: Debian's own, or staging RAMster (Linux 3.10) built
 *  and installed by the tool's kernel stage. */
export type LabKernel = 'debian' | 'ramster';

/** The RAMster kernel kit: a 3.10 tree that still has drivers/staging/zcache/ramster, the patch
 *  that builds it with Debian 12's gcc, and a minimal all-built-in QEMU guest config. */
export interface RamsterKernelKit {
  dir: string;
  tarball: string;
  patch: string;
  config: string;
}

const KIT_FILES = {
  tarball: 'linux-3.10.72-ramster.tar.xz',
  patch: 'linux-3.10.72-x86-gcc12.patch',
  config: 'config-3.10.72',
};

/** Where the kit is looked for: RAMSTER_KERNEL_DIR, then the workplace's shared kernels folder
 *  beside the repository, then its usual absolute place. */
export function kitCandidates(): string[] {
  const env = process.env.RAMSTER_KERNEL_DIR;
  return [...(env ? [env] : []), join(REPO_ROOT, '..', 'shared', 'kernels'), '/work/shared/kernels'];
}

/** Finds the kit and checks its files against its SHA256SUMS (when it has one). */
export async function findRamsterKernelKit(): Promise<RamsterKernelKit> {
  const dir = kitCandidates().find((d) => Object.values(KIT_FILES).every((f) => existsSync(join(d, f))));
  if (!dir) {
    throw new LabError(
      `no RAMster kernel kit (${Object.values(KIT_FILES).join(', ')}) in ${kitCandidates().join(', ')}`,
      'set RAMSTER_KERNEL_DIR to the folder that holds them',
    );
  }
  const kit = {
    dir,
    tarball: join(dir, KIT_FILES.tarball),
    patch: join(dir, KIT_FILES.patch),
    config: join(dir, KIT_FILES.config),
  };
  await checkSums(dir, Object.values(KIT_FILES));
  return kit;
}

async function checkSums(dir: string, files: string[]): Promise<void> {
  const sumsFile = join(dir, 'SHA256SUMS');
  if (!existsSync(sumsFile)) return;
  const expected = new Map<string, string>();
  for (const line of readFileSync(sumsFile, 'utf8').split('\n')) {
    const m = /^([0-9a-f]{64})\s+\*?(\S+)$/.exec(line.trim());
    if (m) expected.set(m[2], m[1]);
  }
  for (const f of files) {
    const want = expected.get(f);
    if (!want) continue;
    const got = await sha256File(join(dir, f));
    if (got !== want)
      throw new LabError(
        `${join(dir, f)} does not match ${sumsFile} (sha256 ${got}, expected ${want})`,
        'copy the kit again',
      );
  }
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** The kernel stage's play variables for the kit: the HOW-TO's path, built on the control
 *  machine (a TCG guest would take hours), cached there by (tree, patches, config). */
export function ramsterKernelVars(kit: RamsterKernelKit): Record<string, unknown> {
  return {
    kernel_source: { tarball: kit.tarball },
    // Relative ones are ours, beside playbooks/site.yaml (see each patch's header for why).
    kernel_patches: [
      kit.patch,
      'patches/linux-3.10-tools-byteshift.patch',
      'patches/linux-3.10.72-mtk-printk-va-list.patch',
      'patches/linux-3.10-getrandom.patch',
      'patches/linux-3.10-zcache-raw-zero-filled.patch',
      'patches/linux-3.10-tmem-up-assert-locked.patch',
      'patches/linux-3.10-ramster-remotify-replace-race.patch',
      'patches/linux-3.10-ramster-memalloc-sockets.patch',
      'patches/linux-3.10-ramster-reconnect-marked-up.patch',
      'patches/linux-3.10-ramster-remotify-local-only.patch',
      'patches/linux-3.10-ramster-selfshrink-needs-room.patch',
    ],
    kernel_config_base: kit.config,
    kernel_config_extra: ['kconfig/lab-3.10-hung-task.config'],
    kernel_build_host: 'control',
  };
}
