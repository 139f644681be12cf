import { execa } from 'execa';
import type { ExecOptions, ExecResult, Transport } from './types.ts';

/** Runs commands on this machine; `root` redirects every step path into a folder
 *  (unit tests, image builds). Commands run with cwd = root and $ROOT set. */
export class LocalTransport implements Transport {
  readonly kind = 'local' as const;
  readonly target: string;
  roundTrips = 0;

  constructor(readonly root = '') {
    this.target = root ? `local:${root}` : 'local';
  }

  async exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.roundTrips++;
    const r = await execa('sh', ['-c', script], {
      input: opts.stdin,
      timeout: opts.timeoutMs,
      reject: false,
      stripFinalNewline: false,
      cwd: this.root || undefined,
      env: { ROOT: this.root, LC_ALL: 'C' },
    });
    if (r.timedOut) return { code: 124, stdout: String(r.stdout ?? ''), stderr: `timed out after ${opts.timeoutMs} ms` };
    return { code: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  }

  async close(): Promise<void> {}
}
