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
    // execa's timeout stops the command's own process only: its children (a write's validate
    // command, the writes of a batch) would live on and finish their work after the timeout
    let timedOut = false;
    const timer =
      pid === undefined || opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            this.stop(pid);
          }, opts.timeoutMs).unref();
    try {
      const r = await child;
      if (r.timedOut || timedOut)
        return { code: 124, stdout: String(r.stdout ?? ''), stderr: `timed out after ${opts.timeoutMs} ms` };
      if (this.interrupted && r.exitCode !== 0 && !opts.afterInterrupt) return interruptedResult(target);
      return { code: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
    } finally {
      clearTimeout(timer);
      if (pid !== undefined) this.running.delete(pid);
    }
  }

  interrupt(): void {
    this.interrupted = true;
    for (const pid of this.running) this.stop(pid);
  }

  /** TERM to the command's whole process group, KILL after a grace. */
  private stop(pid: number): void {
    killGroup(pid, 'SIGTERM');
    // only while its leader still runs: a finished pid may be reused by then
    setTimeout(() => this.running.has(pid) && killGroup(pid, 'SIGKILL'), KILL_AFTER_MS).unref();
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}
