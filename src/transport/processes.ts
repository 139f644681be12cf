import type { ResultPromise } from 'execa';
import { interruptedResult, type ExecOptions, type ExecResult } from './types.ts';

const KILL_AFTER_MS = 2000;

/**
 * Commands of the local and chroot transports, each started as the leader of its own process
 * group (detached), so interrupt() can stop a command with everything it started — a `sleep`
 * in a pipeline included — instead of leaving it running after the run has gone.
 */
export class LocalProcesses {
  private readonly running = new Set<number>();
  private interrupted = false;

  async run(
    target: string,
    opts: ExecOptions,
    start: (detached: { detached: true }) => ResultPromise,
  ): Promise<ExecResult> {
    if (this.interrupted && !opts.afterInterrupt) return interruptedResult(target);
    const child = start({ detached: true });
    const pid = child.pid;
    if (pid !== undefined) this.running.add(pid);
    try {
      const r = await child;
      if (r.timedOut)
        return { code: 124, stdout: String(r.stdout ?? ''), stderr: `timed out after ${opts.timeoutMs} ms` };
      if (this.interrupted && r.exitCode !== 0 && !opts.afterInterrupt) return interruptedResult(target);
      return { code: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
    } finally {
      if (pid !== undefined) this.running.delete(pid);
    }
  }

  interrupt(): void {
    this.interrupted = true;
    for (const pid of this.running) {
      killGroup(pid, 'SIGTERM');
      // only while its leader still runs: a finished pid may be reused by then
      setTimeout(() => this.running.has(pid) && killGroup(pid, 'SIGKILL'), KILL_AFTER_MS).unref();
    }
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}
