import { execa } from 'execa';
import { LocalProcesses } from './processes.ts';
import type { ExecOptions, ExecResult, Transport } from './types.ts';

/** Runs every command inside `chroot DIR`: paths are the image's own paths, so steps see
 *  the folder exactly as the booted host will (CI image builds). */
export class ChrootTransport implements Transport {
  readonly kind = 'chroot' as const;
  readonly root = '';
  readonly target: string;
  roundTrips = 0;
  protected readonly procs = new LocalProcesses();

  constructor(readonly dir: string) {
    this.target = `chroot:${dir}`;
  }

  async exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.roundTrips++;
    return this.procs.run(this.target, opts, (detached) =>
      execa('chroot', [this.dir, '/bin/sh', '-c', script], {
        ...detached,
        input: opts.stdin,
        timeout: opts.timeoutMs,
        reject: false,
        stripFinalNewline: false,
        env: { LC_ALL: 'C', PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
        extendEnv: false,
      }),
    );
  }

  interrupt(): void {
    this.procs.interrupt();
  }

  async close(): Promise<void> {}
}
