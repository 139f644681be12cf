import { execa } from 'execa';
import type { ExecOptions, ExecResult, Transport } from './types.ts';

/** Runs every command inside `chroot DIR`: paths are the image's own paths, so steps see
 *  the folder exactly as the booted host will (CI image builds). */
export class ChrootTransport implements Transport {
  readonly kind = 'chroot' as const;
  readonly root = '';
  readonly target: string;
  roundTrips = 0;

  constructor(readonly dir: string) {
    this.target = `chroot:${dir}`;
  }

  async exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.roundTrips++;
    const r = await execa('chroot', [this.dir, '/bin/sh', '-c', script], {
      input: opts.stdin,
      timeout: opts.timeoutMs,
      reject: false,
      stripFinalNewline: false,
      env: { LC_ALL: 'C', PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
      extendEnv: false,
    });
    if (r.timedOut) return { code: 124, stdout: String(r.stdout ?? ''), stderr: `timed out after ${opts.timeoutMs} ms` };
    return { code: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  }

  async close(): Promise<void> {}
}
