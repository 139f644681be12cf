import type { FileStateSnapshot } from '../transport/snapshot.ts';
import type { ExecOptions, ExecResult, Transport, TransportKind } from '../transport/types.ts';
import type { HostLock } from './hostlock.ts';

/**
 * The transport the steps of one host get: the host's own, plus what the engine keeps for the
 * run. A command that may change the host (any without `touches: []`) first waits until this
 * run holds the host lock; the file-state snapshot forgets what a command touches before it
 * runs; a step's timeout is every command's default.
 */
export class HostTransport implements Transport {
  readonly kind: TransportKind;
  readonly target: string;
  readonly root: string;

  constructor(
    private readonly host: Transport,
    private readonly run: { lock?: HostLock; snapshot?: FileStateSnapshot; timeoutMs?: number } = {},
  ) {
    this.kind = host.kind;
    this.target = host.target;
    this.root = host.root;
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
    this.run.snapshot?.changed(opts.touches);
    if (this.run.lock && opts.touches?.length !== 0) await this.run.lock.ensure();
    return this.host.exec(script, { timeoutMs: this.run.timeoutMs, ...opts });
  }

  interrupt(): void {
    this.host.interrupt?.();
  }

  close(): Promise<void> {
    return this.host.close();
  }
}
