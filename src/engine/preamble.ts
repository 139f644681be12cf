import { factsScript, parseFacts, type Facts } from '../transport/facts.ts';
import {
  parseDigest,
  parseSnapshot,
  run,
  runFrames,
  snapshotScript,
  snapshotWithDigestScript,
  type FileStateSnapshot,
} from '../transport/fileops.ts';
import { hostPath, type Transport } from '../transport/types.ts';
import {
  HostLock,
  HostLockedError,
  HostMovedError,
  lockPeekScript,
  parseLockPeek,
  staleReason,
  type LockPeek,
} from './hostlock.ts';
import { PENDING_PATH, PendingCorruptError, parsePending, type Pending } from './pending.ts';
import { shq } from '../shell.ts';
import type { Frames } from '../frame.ts';

export interface Preamble {
  facts: Facts;
  pending: Pending;
  /** Apply only: the host lock, not held yet unless an old lock had to be taken over; the
   *  engine takes it before the first command that may change the host. */
  lock?: HostLock;
  /** State of the `prefetch` files, read in the same round trip. */
  snapshot?: FileStateSnapshot;
}

/** A lock taken at once by several runs: each attempt that finds the host moved reads it
 *  again, this many times at most. */
const TAKEOVER_ATTEMPTS = 5;

interface FirstRead {
  facts: Facts;
  pendingB64: string;
  peek?: LockPeek;
  digest: string;
  /** The frames read, the snapshot's among them (when there is one). */
  frames: Frames;
}

/**
 * Facts, pending handler notifications and the state of the `prefetch` files the steps will
 * read, in ONE round trip and without the lock; for an apply also the lock's record (a host
 * held by another live run fails or waits as before) and a digest of those files, which the
 * lock later proves unchanged. A stale lock (or any, with --break-lock) is taken over at once,
 * and with --lock-wait the lock is taken at once too.
 */
export async function openHost(
  t: Transport,
  opts: { apply: boolean; breakLock?: boolean; lockWaitMs?: number; log?: (l: string) => void; prefetch?: string[] },
): Promise<Preamble> {
  const prefetch = opts.prefetch ?? [];
  if (!opts.apply) {
    const first = await readHost(t, false, prefetch);
    return {
      facts: first.facts,
      pending: await readPending(t, first.pendingB64),
      snapshot: snapshotOf(t, first, prefetch),
    };
  }
  // The lock proves these unchanged; the pending-handlers file (read here too) is one of them
  // even when no step reads files.
  const watched = prefetch.length ? prefetch : [PENDING_PATH];
  const deadline = Date.now() + (opts.lockWaitMs ?? 0);
  for (let moved = 0; ; ) {
    const first = await readHost(t, true, watched);
    const peek = first.peek!;
    const lock = new HostLock(t, { serial: peek.serial, digest: first.digest, state: first.frames, watched });
    let expect: string | undefined; // a lock to take now; else it is taken before the first change
    if (peek.held) {
      const stale = opts.breakLock ? 'asked with --break-lock' : staleReason(peek.holder, first.facts.boot_id);
      if (!stale) {
        if (Date.now() >= deadline) throw new HostLockedError(peek.holder);
        await new Promise((r) => setTimeout(r, 2000));
        continue;
      }
      if (!opts.breakLock) opts.log?.(`taking over a stale lock: ${stale}`);
      expect = opts.breakLock ? '*' : `rec:${peek.record}`;
    } else if (opts.lockWaitMs) {
      // --lock-wait expects other runs: holding the lock from here, this run waits for them
      // as before, where one taking the lock before this run's first change would fail it.
      expect = '';
    }
    if (expect !== undefined) {
      const took = await lock.take(expect);
      // Another run was quicker, or the host moved: the next read decides again.
      if (took.kind === 'moved' && ++moved >= TAKEOVER_ATTEMPTS) throw new HostMovedError(took.why);
      if (took.kind !== 'acquired') continue;
    }
    const pending = await readPending(t, first.pendingB64, lock).catch(async (e: unknown) => {
      await lock.release().catch(() => undefined); // the host fails before runHost knows of the lock
      throw e;
    });
    return { facts: first.facts, pending, lock, snapshot: snapshotOf(t, first, prefetch) };
  }
}

async function readHost(t: Transport, apply: boolean, paths: string[]): Promise<FirstRead> {
  const script = [
    factsScript(t),
    apply ? lockPeekScript(t) : ':',
    `rp_frame pending; base64 -w0 ${shq(hostPath(t, PENDING_PATH))} 2>/dev/null`,
    !paths.length ? ':' : apply ? snapshotWithDigestScript(t, paths) : snapshotScript(t, paths),
  ].join('\n');
  const frames = await runFrames(t, script, 'gather facts');
  return {
    facts: parseFacts(frames),
    pendingB64: frames.body('pending').trim(),
    peek: apply ? parseLockPeek(frames) : undefined,
    digest: paths.length ? parseDigest(frames) : '',
    frames,
  };
}

function snapshotOf(t: Transport, first: FirstRead, paths: string[]): FileStateSnapshot | undefined {
  return paths.length ? parseSnapshot(first.frames, t, paths) : undefined;
}

/** The pending notifications; a corrupt file fails the host (it may hold a pending reboot),
 *  and an apply first moves it aside (under the lock) so the next run starts clean. */
async function readPending(t: Transport, b64: string, lock?: HostLock): Promise<Pending> {
  const text = Buffer.from(b64, 'base64').toString();
  const parsed = parsePending(text);
  if (!('problem' in parsed)) return parsed.pending;
  let aside: string | undefined;
  if (lock) {
    await lock.ensure();
    aside = `${PENDING_PATH}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await run(
      t,
      `mv -f ${shq(hostPath(t, PENDING_PATH))} ${shq(hostPath(t, aside))}`,
      `moving the corrupt ${PENDING_PATH} aside`,
    );
  }
  throw new PendingCorruptError(parsed.problem, aside);
}
