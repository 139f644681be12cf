import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { factsScript, parseFacts, type Facts } from '../transport/facts.ts';
import { parseSnapshot, run, snapshotScript, type FileStateSnapshot } from '../transport/fileops.ts';
import { hostPath, shq, type Transport } from '../transport/types.ts';
import { PENDING_PATH, PendingCorruptError, parsePending, type Pending } from './pending.ts';

/**
 * One apply at a time per host: a lock FILE holding its owner record. Every change to it
 * (take, take over, release) happens under `flock` on `<lock>.flock`, held only for that
 * shell command, so two runs never decide at once; the record is written to a temp file and
 * renamed into place, so a lock never exists without its record. Taking over a stale lock
 * replaces it only if it still holds the very record that was judged stale.
 */
export const LOCK_PATH = '/var/lib/ramster-provision/lock';

/** A lock without a readable record (an older version's lock directory being created) is
 *  only stale after this long. */
const RECORDLESS_STALE_S = 60;

export interface LockOwner {
  controller: string;
  pid: number;
  started: string;
  boot_id: string;
  token?: string;
  /** Seconds since the lock was written. */
  ageS?: number;
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

/** This run's lock token: the lock is released only while it holds this token. */
const TOKEN = randomBytes(12).toString('hex');

/** The shell that takes the lock under flock; `expect`: `rec:<base64 of the record judged
 *  stale>` (take over only if the lock still holds it), `*` for --break-lock, '' for a free lock only. */
function lockScript(t: Transport, expect: string): string {
  const L = shq(hostPath(t, LOCK_PATH));
  const owner = `controller=${hostname()}\npid=${process.pid}\nstarted=${new Date().toISOString()}\ntoken=${TOKEN}\n`;
  return `L=${L}; mkdir -p "$(dirname "$L")"
command -v flock >/dev/null 2>&1 || { echo 'flock is not installed on the host (util-linux): it guards the host lock' >&2; exit 69; }
exec 9>>"$L.flock"; flock -w 120 9 || { echo "cannot get $L.flock within 120 s" >&2; exit 75; }
rec() { if [ -d "$L" ]; then cat "$L/owner" 2>/dev/null; elif [ -f "$L" ]; then cat "$L"; fi; }
cur=$(rec | base64 -w0); expect=${shq(expect)}
if [ ! -e "$L" ] || [ "$expect" = '*' ] || [ "$expect" = "rec:$cur" ]; then
  { printf %s ${shq(owner)}; echo "boot_id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)"; } > "$L.new.$$"
  rm -rf "$L"; mv -f "$L.new.$$" "$L"; echo "==lock==acquired"
else
  age=$(( $(date +%s) - $(stat -c %Y "$L") ))
  echo "==lock==held $age $cur"
fi
exec 9>&-`;
}

/** Facts, (for an apply) the host lock, pending handler notifications, and the state of the
 *  `prefetch` files the steps will read, in ONE round trip. */
export async function openHost(
  t: Transport,
  opts: { apply: boolean; breakLock?: boolean; lockWaitMs?: number; log?: (l: string) => void; prefetch?: string[] },
): Promise<Preamble> {
  const prefetch = opts.prefetch ?? [];
  const deadline = Date.now() + (opts.lockWaitMs ?? 0);
  let expect = opts.breakLock ? '*' : '';
  let broke: string | undefined = opts.breakLock ? 'asked with --break-lock' : undefined;
  for (;;) {
    const script = [
      factsScript(t),
      opts.apply ? lockScript(t, expect) : ':',
      `echo "==pending=="; base64 -w0 ${shq(hostPath(t, PENDING_PATH))} 2>/dev/null; echo`,
      prefetch.length ? `echo ${SNAPSHOT_MARK}\n${snapshotScript(t, prefetch)}` : ':',
    ].join('\n');
    const all = await run(t, script, 'gather facts');
    const [out, snapOut] = splitOnce(all, `${SNAPSHOT_MARK}\n`);
    const [head, rest = ''] = out.split('==pending==\n');
    const facts = parseFacts(head);
    const lockLine = /==lock==(.*)$/m.exec(head)?.[1] ?? '';
    if (opts.apply && lockLine !== 'acquired') {
      const [, age = '0', b64 = ''] = /^held (\d+) ?(.*)$/.exec(lockLine) ?? [];
      const holder = { ...parseOwner(Buffer.from(b64, 'base64').toString()), ageS: Number(age) };
      const stale = staleReason(holder, facts.boot_id);
      if (stale) {
        opts.log?.(`taking over a stale lock: ${stale}`);
        expect = `rec:${b64}`;
        broke = stale;
        continue;
      }
      if (Date.now() >= deadline) throw new HostLockedError(holder);
      await new Promise((r) => setTimeout(r, 2000));
      continue;
    }
    // Read after the lock was taken: no other run changes it from here on.
    const pending = await readPending(t, rest.split('\n')[0].trim(), opts.apply).catch(async (e: unknown) => {
      if (opts.apply) await releaseLock(t).catch(() => undefined); // the host fails before runHost knows it holds the lock
      throw e;
    });
    const snapshot = snapOut === undefined ? undefined : parseSnapshot(snapOut, t, prefetch);
    return { facts, pending, locked: opts.apply, brokeLock: broke, snapshot };
  }
}

/** The pending notifications; a corrupt file fails the host (it may hold a pending reboot),
 *  and an apply first moves it aside so the next run starts clean. */
async function readPending(t: Transport, b64: string, apply: boolean): Promise<Pending> {
  const text = Buffer.from(b64, 'base64').toString();
  const parsed = parsePending(text);
  if (!('problem' in parsed)) return parsed.pending;
  let aside: string | undefined;
  if (apply) {
    aside = `${PENDING_PATH}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await run(t, `mv -f ${shq(hostPath(t, PENDING_PATH))} ${shq(hostPath(t, aside))}`, `moving the corrupt ${PENDING_PATH} aside`);
  }
  throw new PendingCorruptError(parsed.problem, aside);
}

function splitOnce(text: string, sep: string): [string, string | undefined] {
  const i = text.indexOf(sep);
  return i < 0 ? [text, undefined] : [text.slice(0, i), text.slice(i + sep.length)];
}

function parseOwner(text: string): LockOwner {
  const kv = Object.fromEntries(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  return { controller: kv.controller ?? 'unknown', pid: Number(kv.pid ?? 0), started: kv.started ?? 'unknown', boot_id: kv.boot_id ?? '', token: kv.token };
}

/** A lock is stale when the host rebooted since, or its run was on this machine and is gone. */
export function staleReason(o: LockOwner, bootId: string): string | undefined {
  // Our own locks always have a record (renamed into place whole); one without is an older
  // version's lock directory, maybe being created right now: stale only once it is old.
  if (!o.boot_id && o.pid === 0) {
    return (o.ageS ?? 0) > RECORDLESS_STALE_S ? `it has no owner record and is ${o.ageS} s old: the run that took it died while taking it` : undefined;
  }
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

/** Removes the lock if it is still this run's (a --break-lock elsewhere may have taken it). */
export async function releaseLock(t: Transport): Promise<void> {
  const L = shq(hostPath(t, LOCK_PATH));
  await t.exec(`L=${L}; exec 9>>"$L.flock"; flock -w 120 9; if [ -f "$L" ] && grep -qxF ${shq(`token=${TOKEN}`)} "$L"; then rm -f "$L"; fi`, { afterInterrupt: true });
}
