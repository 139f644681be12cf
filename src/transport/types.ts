/** How steps reach a host. Every host operation is a POSIX shell command, so the local,
 *  chroot and SSH transports share one implementation of file primitives (see fileops.ts). */
export interface ExecOptions {
  /** Bytes or text fed to the command's stdin. */
  stdin?: string | Buffer;
  /** Kill the command after this many milliseconds (the step then fails with a timeout). */
  timeoutMs?: number;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type TransportKind = 'local' | 'ssh' | 'chroot';

export interface Transport {
  readonly kind: TransportKind;
  /** Human name for messages, e.g. `root@127.0.0.1:2222` or `local:/tmp/root`. */
  readonly target: string;
  /** Directory every absolute path of a step is resolved under ('' for a real host). */
  readonly root: string;
  /** Runs `sh -c script` on the host (with privilege escalation when the host asks for it). */
  exec(script: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Number of remote commands issued so far (round trips, for the benchmark). */
  readonly roundTrips: number;
  close(): Promise<void>;
}

/** Thrown when the host cannot be reached at all: the engine marks it `unreachable`. */
export class UnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnreachableError';
  }
}

/** Thrown for a host key that is unknown or changed: never retried, always reported. */
export class HostKeyError extends UnreachableError {
  constructor(message: string) {
    super(message);
    this.name = 'HostKeyError';
  }
}

/** Prefixes an absolute host path with the transport's root directory. */
export function hostPath(t: Pick<Transport, 'root'>, path: string): string {
  if (!path.startsWith('/')) throw new Error(`path must be absolute: ${path}`);
  return t.root ? t.root.replace(/\/+$/, '') + path : path;
}

/** Single-quotes a value for POSIX sh. */
export function shq(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Optional capability of transports that can drop and re-establish their connection
 *  (the reboot step uses it). */
export interface Reconnectable {
  reconnect(opts: { timeoutMs: number; connectTimeoutMs: number }): Promise<void>;
}

export function isReconnectable(t: Transport): t is Transport & Reconnectable {
  return typeof (t as Partial<Reconnectable>).reconnect === 'function';
}

/** A folder or chroot (an image being built), not a running host: no live kernel, init or mounts. */
export function isImageTarget(t: Pick<Transport, 'root' | 'kind'>): boolean {
  return t.root !== '' || t.kind === 'chroot';
}
