/** The real Debian linux-source-6.1 tree the kconfig and kernel-build tests share: unpacked
 *  once into the cache (a minute or two the first time), then reused. */
import { execFile } from 'node:child_process';
import type { RunScript } from '../../src/kernel/kconfig-merge.ts';

export const KERNEL_TARBALL = '/usr/src/linux-source-6.1.tar.xz';
export const KERNEL_CACHE = process.env.RAMSTER_KERNEL_CACHE ?? '/var/cache/ramster-provision/linux-source-6.1';

/** `sh -c script` on this machine, never throwing: the exit code comes back in the result. */
export const runLocal: RunScript = (script) =>
  new Promise((resolve) => {
    execFile('sh', ['-c', script], { maxBuffer: 1 << 28 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
