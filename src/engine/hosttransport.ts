import type { FileStateSnapshot } from '../transport/snapshot.ts';
import {
  isReconnectable,
  type ExecOptions,
  type ExecResult,
  type Transport,
  type TransportKind,
} from '../transport/types.ts';
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
  /** The host transport's own, when it has one (a wrapper must not hide a capability). */
  readonly reconnect?: (opts: { timeoutMs: number; connectTimeoutMs: number }) => Promise<void>;

  constructor(
    private readonly host: Transport,
    private readonly run: { lock?: HostLock; snapshot?: FileStateSnapshot; timeoutMs?: number } = {},
  ) {
    this.kind = host.kind;
    this.target = host.target;
    this.root = host.root;
    if (isReconnectable(host)) this.reconnect = (opts) => host.reconnect(opts);
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
