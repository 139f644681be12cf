import { hostname } from 'node:os';
import { FACTS_SCRIPT, parseFacts, type Facts } from '../transport/facts.ts';
import { parseSnapshot, run, snapshotScript, type FileStateSnapshot } from '../transport/fileops.ts';
import { shq, type Transport } from '../transport/types.ts';
import { PENDING_PATH, type Pending } from './pending.ts';

/** One apply at a time per host: a lock directory on the host, created atomically (mkdir). */
export const LOCK_PATH = '/var/lib/ramster-provision/lock';

export interface LockOwner {
  controller: string;
  pid: number;
  started: string;
  boot_id: string;
}

export class HostLockedError extends Error {
  constructor(readonly owner: LockOwner) {
    super(
      `host is being provisioned by another run (${owner.controller} pid ${owner.pid}, since ${owner.started}); ` +
        `wait for it (--lock-wait <s>), or if that run is dead, re-run with --break-lock`,
    );
    this.name = 'HostLockedError';
  }
}

export interface Preamble {
  facts: Facts;
  pending: Pending;
  /** Set when this run holds the host's lock (apply only). */
  locked: boolean;
  /** Why an old lock was taken over. */
  brokeLock?: string;
  /** State of the `prefetch` files, read after the lock was taken. */
  snapshot?: FileStateSnapshot;
}

const SNAPSHOT_MARK = '==snapshot==';

/** Facts, pending handler notifications, (for an apply) the host lock, and the state of the
 *  `prefetch` files the steps will read, in ONE round trip. */
export async function openHost(
  t: Transport,
  opts: { apply: boolean; breakLock?: boolean; lockWaitMs?: number; log?: (l: string) => void; prefetch?: string[] },
): Promise<Preamble> {
  const prefetch = opts.prefetch ?? [];
  const deadline = Date.now() + (opts.lockWaitMs ?? 0);
  let force = opts.breakLock ?? false;
  let broke: string | undefined = force ? 'asked with --break-lock' : undefined;
  for (;;) {
    const lock = `"\${ROOT:-}"${LOCK_PATH}`;
    const owner = `controller=${hostname()}\npid=${process.pid}\nstarted=${new Date().toISOString()}\n`;
    const script = [
      FACTS_SCRIPT,
      `echo "==pending=="; base64 -w0 "\${ROOT:-}"${shq(PENDING_PATH)} 2>/dev/null; echo`,
      opts.apply
        ? [
            `mkdir -p "$(dirname ${lock})"`,
            force ? `rm -rf ${lock}` : ':',
            `if mkdir ${lock} 2>/dev/null; then`,
            `  { printf %s ${shq(owner)}; echo "boot_id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)"; } > ${lock}/owner; sync ${lock}/owner 2>/dev/null; echo "==lock==acquired"`,
            `else echo "==lock==held $(base64 -w0 ${lock}/owner 2>/dev/null)"; fi`,
          ].join('\n')
        : ':',
      prefetch.length ? `echo ${SNAPSHOT_MARK}\n${snapshotScript(t, prefetch)}` : ':',
    ].join('\n');
    const all = await run(t, script, 'gather facts');
    const [out, snapOut] = splitOnce(all, `${SNAPSHOT_MARK}\n`);
    const snapshot = snapOut === undefined ? undefined : parseSnapshot(snapOut, t, prefetch);
    const [factsOut, rest = ''] = out.split('==pending==\n');
    const facts = parseFacts(factsOut);
    const pendingB64 = rest.split('\n')[0].trim();
    let pending: Pending = {};
    try {
      pending = pendingB64 ? JSON.parse(Buffer.from(pendingB64, 'base64').toString()) : {};
    } catch {
      pending = {}; // a corrupt file must not block runs; it is rewritten on the next notify
    }
    const lockLine = /==lock==(.*)$/m.exec(rest)?.[1] ?? '';
    if (!opts.apply || lockLine === 'acquired') return { facts, pending, locked: opts.apply, brokeLock: broke, snapshot };
    const holder = parseOwner(Buffer.from(lockLine.replace(/^held ?/, ''), 'base64').toString());
    const stale = staleReason(holder, facts.boot_id);
    if (stale) {
      opts.log?.(`taking over a stale lock: ${stale}`);
      force = true;
      broke = stale;
      continue;
    }
    if (Date.now() >= deadline) throw new HostLockedError(holder);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function splitOnce(text: string, sep: string): [string, string | undefined] {
  const i = text.indexOf(sep);
  return i < 0 ? [text, undefined] : [text.slice(0, i), text.slice(i + sep.length)];
}

function parseOwner(text: string): LockOwner {
  const kv = Object.fromEntries(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  return { controller: kv.controller ?? 'unknown', pid: Number(kv.pid ?? 0), started: kv.started ?? 'unknown', boot_id: kv.boot_id ?? '' };
}

/** A lock is stale when the host rebooted since, or its run was on this machine and is gone. */
export function staleReason(o: LockOwner, bootId: string): string | undefined {
  // The owner record is written by the command that creates the lock: no record means that
  // command died (or the host lost power before the record reached the disk).
  if (!o.boot_id && o.pid === 0) return 'it has no owner record: the run that took it died while taking it';
  if (o.boot_id && bootId && o.boot_id !== bootId) return `taken by ${o.controller} pid ${o.pid} before the host last rebooted`;
  if (o.controller === hostname() && o.pid > 0 && !alive(o.pid)) return `its run (pid ${o.pid} on this machine) is no longer running`;
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function releaseLock(t: Transport): Promise<void> {
  await t.exec(`rm -rf "\${ROOT:-}"${LOCK_PATH}`);
}
