import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import type { FileStateSnapshot } from './snapshot.ts';
/** How steps reach a host. Every host operation is a POSIX shell command, so the local,
 *  chroot and SSH transports share one implementation of file primitives (see fileops.ts). */
export interface ExecOptions {
  /** Bytes or text fed to the command's stdin. */
  stdin?: string | Buffer;
  /** Kill the command after this many milliseconds (the step then fails with a timeout). */
  timeoutMs?: number;
  /** Runs even after interrupt() (releasing the host lock on the way out). */
  afterInterrupt?: boolean;
  /** The host paths the command may change: `[]` for a command that only reads. Omitted, it
   *  may change anything. The engine's transport (engine/hosttransport.ts) relies on it: a
   *  command that may change something waits for the host lock, and the file-state snapshot
   *  forgets what it touches. */
  touches?: string[];
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type TransportKind = 'local' | 'ssh' | 'chroot';

/** A command that changes the host and whose output nothing needs: a file write. */
export interface DeferredWrite {
  /** The host paths it changes (as ExecOptions.touches). */
  touches: string[];
  /** Its stdin: base64 text, or none. */
  stdin?: string;
  /** The error it fails with: the one it would throw run on its own. */
  failed(r: ExecResult): Error;
}

export interface Transport {
  readonly kind: TransportKind;
  /** Human name for messages, e.g. `root@127.0.0.1:2222` or `local:/tmp/root`. */
  readonly target: string;
  /** Directory every absolute path of a step is resolved under ('' for a real host). */
  readonly root: string;
  /** Runs `sh -c script` on the host (with privilege escalation when the host asks for it). */
  exec(script: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Queues a write to run later in one round trip with the writes queued with it: before the
   *  transport's next command (which may need what it wrote), or when the engine flushes; a
   *  failure is reported then, as `failed(result)`. Transports without it run writes at once. */
  deferWrite?(script: string, write: DeferredWrite): void;
  /** Number of remote commands issued so far (round trips, for the benchmark). */
  readonly roundTrips: number;
  /** File states read at the start of the run, when the engine took them (readFileState
   *  answers from it until a command touches the path). */
  readonly snapshot?: FileStateSnapshot;
  /** Second Ctrl-C: kills the process group of every command in flight (they fail), and
   *  refuses new commands except those marked afterInterrupt. */
  interrupt?(): void;
  /** Transports that can drop and re-establish their connection have it (SSH: the reboot step
   *  waits for the host this way); see isReconnectable. */
  reconnect?(opts: { timeoutMs: number; connectTimeoutMs: number }): Promise<void>;
  close(): Promise<void>;
}

export const INTERRUPTED_EXIT = 130;

/** Result of a command refused or killed by Transport.interrupt(). */
export const interruptedResult = (target: string): ExecResult => ({
  code: INTERRUPTED_EXIT,
  stdout: '',
  stderr: `interrupted: the command on ${target} was stopped`,
});

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

/** A step path that is not absolute, or names a `..` (which could leave a folder target). */
export class PathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PathError';
  }
}

const MAX_SYMLINKS = 40;

/**
 * An absolute host path as the transport's commands must name it. On a real host (or a
 * chroot, where the kernel resolves paths) that is the path itself; on a folder target it is
 * the path resolved INSIDE the folder, as the booted image would resolve it: every symlink
 * (absolute or relative) is followed with the folder as `/`, and `..` in a link target stops at
 * the folder. `..` in the path itself is refused on every transport.
 */
export function hostPath(t: Pick<Transport, 'root'>, path: string): string {
  if (!path.startsWith('/')) throw new PathError(`path must be absolute: ${JSON.stringify(path)}`);
  if (path.split('/').includes('..'))
    throw new PathError(`path ${JSON.stringify(path)} contains '..': give the absolute path without it`);
  return t.root ? resolveInRoot(t.root, path) : path;
}

/** `root` + `path` with no symlink followed: what hostPath gives when nothing is a link. */
export function lexicalHostPath(t: Pick<Transport, 'root'>, path: string): string {
  return t.root ? t.root.replace(/\/+$/, '') + path : path;
}

function resolveInRoot(root: string, path: string): string {
  const base = root.replace(/\/+$/, '');
  const done: string[] = [];
  const todo = path.split('/');
  let links = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      done.pop(); // only from a link target: at the folder's top it stays there
      continue;
    }
    const here = `${base}/${[...done, part].join('/')}`;
    let st: Stats | undefined;
    try {
      st = lstatSync(here);
    } catch {
      st = undefined; // not there (yet): the rest is taken as written
    }
    if (st?.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw new PathError(`${path} in ${root}: too many levels of symbolic links`);
      const target = readlinkSync(here);
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...target.split('/'));
      continue;
    }
    done.push(part);
  }
  return `${base}/${done.join('/')}`;
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
