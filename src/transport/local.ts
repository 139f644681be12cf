import { execa } from 'execa';
import { LocalProcesses } from './processes.ts';
import type { ExecOptions, ExecResult, Transport } from './types.ts';

/** Runs commands on this machine; `root` redirects every step path into a folder
 *  (unit tests, image builds). Commands run with cwd = root and $ROOT set. */
export class LocalTransport implements Transport {
  readonly kind = 'local' as const;
  readonly target: string;
  roundTrips = 0;
  private readonly procs = new LocalProcesses();

  constructor(readonly root = '') {
    this.target = root ? `local:${root}` : 'local';
  }

  async exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.roundTrips++;
    return this.procs.run(this.target, opts, (detached) =>
      execa('sh', ['-c', script], {
        ...detached,
        input: opts.stdin,
        timeout: opts.timeoutMs,
        reject: false,
        stripFinalNewline: false,
        cwd: this.root || undefined,
        env: { ROOT: this.root, LC_ALL: 'C' },
      }),
    );
  }

  interrupt(): void {
    this.procs.interrupt();
  }

  async close(): Promise<void> {}
}
