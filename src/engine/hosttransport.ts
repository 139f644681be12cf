import type { FileStateSnapshot } from '../transport/snapshot.ts';
import {
  isReconnectable,
  UnreachableError,
  type DeferredWrite,
  type ExecOptions,
  type ExecResult,
  type Transport,
  type TransportKind,
} from '../transport/types.ts';
import type { HostLock } from './hostlock.ts';
import type { WriteQueue } from './writebatch.ts';

interface RunState {
  lock?: HostLock;
  snapshot?: FileStateSnapshot;
  timeoutMs?: number;
  /** An apply's writes wait here for the next command that needs an answer (see flush). */
  writes?: WriteQueue;
}

/**
 * The transport the steps of one host get: the host's own, plus what the engine keeps for the
 * run. A command that may change the host (any without `touches: []`) first waits until this
 * run holds the host lock; the file-state snapshot forgets what a command touches before it
 * runs; a step's timeout is every command's default. With a write queue, writes (files,
 * blocks, lines, modes) are queued and sent together, just before the next command.
 */
export class HostTransport implements Transport {
  readonly kind: TransportKind;
  readonly target: string;
  readonly root: string;
  /** The host transport's own, when it has one (a wrapper must not hide a capability). */
  readonly reconnect?: (opts: { timeoutMs: number; connectTimeoutMs: number }) => Promise<void>;

  /** With a write queue only: queues the write (see flush), forgetting its paths at once. */
  readonly deferWrite?: (script: string, write: DeferredWrite) => void;

  constructor(
    private readonly host: Transport,
    private readonly run: RunState = {},
  ) {
    this.kind = host.kind;
    this.target = host.target;
    this.root = host.root;
    if (isReconnectable(host))
      this.reconnect = async (opts) => {
        await this.flush();
        await host.reconnect(opts);
      };
    const writes = run.writes;
    if (writes)
      this.deferWrite = (script, write) => {
        run.snapshot?.changed(write.touches);
        writes.add(script, write, run.timeoutMs);
      };
  }

  get roundTrips(): number {
    return this.host.roundTrips;
  }

  get snapshot(): FileStateSnapshot | undefined {
    return this.run.snapshot;
  }

  /** The same transport with `timeoutMs` as the default of every command (a step's timeout). */
  withTimeout(timeoutMs: number | undefined): HostTransport {
    return timeoutMs ? new HostTransport(this.host, { ...this.run, timeoutMs }) : this;
  }

  async exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    await this.flush();
    this.run.snapshot?.changed(opts.touches);
    if (this.run.lock && opts.touches?.length !== 0) await this.run.lock.ensure();
    return this.host.exec(script, { timeoutMs: this.run.timeoutMs, ...opts });
  }

  /**
   * Sends the queued writes in one command, under the host lock (taken first if need be);
   * with `unlock` the lock's release rides on the same command. A write that fails stops the
   * ones after it and is thrown as WriteFailed (also when the lock cannot be taken).
   */
  async flush(opts: { unlock?: boolean } = {}): Promise<void> {
    const { writes, lock } = this.run;
    if (!writes || writes.empty) return;
    await lock?.ensure().catch((e: unknown) => {
      if (e instanceof UnreachableError) throw e;
      throw writes.drop(e instanceof Error ? e : new Error(String(e)));
    });
    const tail = opts.unlock && lock?.held ? lock.releaseScript() : undefined;
    const { tailRan, failure } = await writes.run(this.host, tail);
    if (tailRan) lock?.released();
    if (failure) throw failure;
  }

  interrupt(): void {
    this.host.interrupt?.();
  }

  close(): Promise<void> {
    return this.host.close();
  }
}
