import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { pidAlive } from '../pid.ts';
import { changedPaths, parseSnapshot, snapshotDigestFunctions } from '../transport/fileops.ts';
import { hostPath, type Transport } from '../transport/types.ts';
import { commandFailed, shq } from '../shell.ts';
import { framed, type Frames } from '../frame.ts';

/**
 * One apply at a time per host: a lock FILE holding its owner record. Every change to it
 * (take, take over, release) happens under `flock` on `<lock>.flock`, held only for that
 * shell command, so two runs never decide at once; the record is written to a temp file, synced
 * and renamed into place, so a lock never exists without its record, even after the host lost
 * power just after taking it (the lab saw an empty lock then). Taking over a stale lock
 * replaces it only if it still holds the very record that was judged stale.
 *
 * An apply reads the host WITHOUT the lock and takes it only before its first command that may
 * change something (a no-op apply never takes it). Taking it proves that nothing moved since
 * that read: `<lock>.serial` counts every take, so an unchanged serial means no run of ours held
 * the lock in between, and the digest of the files the steps read is unchanged too.
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
  /** The lock was written before the host's last boot (its mtime is older than the uptime). */
  beforeBoot?: boolean;
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

/** The host changed between this run's lock-free read and its lock: its plan is out of date. */
export class HostMovedError extends Error {
  constructor(why: string) {
    super(`the host changed after this run read it (${why}); this run changed nothing there: apply again`);
    this.name = 'HostMovedError';
  }
}

/** This run's lock token: the lock is released only while it holds this token. */
const TOKEN = randomBytes(12).toString('hex');

/** Shell functions over $L: the lock's record (either form) and the serial (0 when unreadable). */
const LOCK_FNS = `rp_record() { if [ -d "$L" ]; then cat "$L/owner" 2>/dev/null; elif [ -f "$L" ]; then cat "$L"; fi; }
rp_serial() { s=$(cat "$L.serial" 2>/dev/null); case $s in ''|*[!0-9]*) s=0;; esac; echo "$s"; }
rp_age() { echo $(( $(date +%s) - $(stat -c %Y "$L") )); }
rp_fsync() { sync -- "$@" 2>/dev/null || sync; }
rp_held() { a=$(rp_age); u=$(cut -d. -f1 /proc/uptime 2>/dev/null); b=0; [ -n "$u" ] && [ "$a" -gt "$u" ] && b=1; rp_frame lock held "$a" "$b"; rp_record | base64 -w0; }`;

/** Shell text for the lock-free read: the serial FIRST, then the lock, both before any state
 *  the steps use is read (a run that held the lock before then has finished its changes, one
 *  that takes it after bumps the serial). Prints the frames (src/frame.ts) `serial` (body: the
 *  number) and `lock free` or `lock held <age s> <1 if written before the host's last boot,
 *  else 0>` (body: the record, base64). */
export function lockPeekScript(t: Transport): string {
  return `L=${shq(hostPath(t, LOCK_PATH))}
${LOCK_FNS}
rp_frame serial; rp_serial
if [ -e "$L" ]; then rp_held; else rp_frame lock free; fi`;
}

export type LockPeek = { serial: string } & ({ held: false } | { held: true; holder: LockOwner; record: string });

export function parseLockPeek(frames: Frames): LockPeek {
  const serial = /^\d+$/.exec(frames.body('serial').trim())?.[0] ?? '';
  const held = heldFrame(frames);
  if (!held) return { serial, held: false };
  return { serial, held: true, holder: holderOf(held), record: held.record };
}

/** The `lock held <age> <before boot>` frame with its base64 record, if there is one. */
function heldFrame(frames: Frames): { ageS: string; beforeBoot: string; record: string } | undefined {
  const m = /^held (\d+) ([01])$/.exec(frames.get('lock')?.key ?? '');
  const record = frames.body('lock').trim();
  if (!m || !/^[A-Za-z0-9+/=]*$/.test(record)) return undefined;
  return { ageS: m[1], beforeBoot: m[2], record };
}

function holderOf(held: { ageS: string; beforeBoot: string; record: string }): LockOwner {
  return {
    ...parseOwner(Buffer.from(held.record, 'base64').toString()),
    ageS: Number(held.ageS),
    beforeBoot: held.beforeBoot === '1',
  };
}

/** What the host looked like at the lock-free read. */
export interface SeenState {
  serial: string;
  /** Digest and frames of the snapshot of `watched` (snapshotWithDigestScript). */
  digest: string;
  state: Frames;
  watched: string[];
}

export type TakeOutcome = { kind: 'acquired' } | { kind: 'held'; holder: LockOwner } | { kind: 'moved'; why: string };

/** The host lock of one apply on one host: taken at most once, released at the end. */
export class HostLock {
  held = false;
  private taking?: Promise<void>;

  constructor(
    private readonly t: Transport,
    private readonly seen: SeenState,
  ) {}

  /**
   * One round trip under flock: takes the lock when it is free (or, by `expect`, still holds
   * the record judged stale `rec:<base64>`, or anything: `*`) AND the serial and the digest of
   * the watched files are still those of the lock-free read.
   */
  async take(expect = ''): Promise<TakeOutcome> {
    const take = framed(takeScript(this.t, expect, this.seen));
    const out = await this.t.exec(take.script, {});
    if (out.code !== 0) throw new Error(commandFailed('taking the host lock', out, { lines: 3 }));
    const frames = take.read(out.stdout);
    const line = frames.get('lock')?.key;
    if (line === 'acquired') {
      this.held = true;
      return { kind: 'acquired' };
    }
    const held = heldFrame(frames);
    if (held) return { kind: 'held', holder: holderOf(held) };
    if (line === 'moved run') return { kind: 'moved', why: 'another run took its lock and released it in between' };
    if (line === 'moved files') return { kind: 'moved', why: this.movedFiles(frames) };
    throw new Error(`taking the host lock: unexpected answer ${JSON.stringify(out.stdout.slice(0, 200))}`);
  }

  /** Takes the lock before the first change; fails the change when another run holds it or
   *  the host moved since the lock-free read. */
  ensure(): Promise<void> {
    if (this.held) return Promise.resolve();
    this.taking ??= this.take().then((r) => {
      if (r.kind === 'held') throw new HostLockedError(r.holder);
      if (r.kind === 'moved') throw new HostMovedError(r.why);
    });
    return this.taking;
  }

  /** Removes the lock if this run holds it and it is still this run's (a --break-lock
   *  elsewhere may have taken it). */
  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await this.t.exec(this.releaseScript(), { afterInterrupt: true });
  }

  /** The shell text of release(); the engine sends it with its last batch of writes, then
   *  calls released(). */
  releaseScript(): string {
    const L = shq(hostPath(this.t, LOCK_PATH));
    return `L=${L}; exec 9>>"$L.flock"; flock -w 120 9; if [ -f "$L" ] && grep -qxF ${shq(`token=${TOKEN}`)} "$L"; then rm -f "$L"; fi`;
  }

  /** releaseScript() ran on the host: nothing is left to release. */
  released(): void {
    this.held = false;
  }

  private movedFiles(fresh: Frames): string {
    const { watched, state } = this.seen;
    const paths = changedPaths(parseSnapshot(state, this.t, watched), parseSnapshot(fresh, this.t, watched), watched);
    return paths.length ? `changed since: ${paths.join(', ')}` : 'files its steps read changed';
  }
}

function takeScript(t: Transport, expect: string, seen: SeenState): string {
  const L = shq(hostPath(t, LOCK_PATH));
  const owner = `controller=${hostname()}\npid=${process.pid}\nstarted=${new Date().toISOString()}\ntoken=${TOKEN}\n`;
  return `L=${L}; mkdir -p "$(dirname "$L")"
command -v flock >/dev/null 2>&1 || { echo 'flock is not installed on the host (util-linux): it guards the host lock' >&2; exit 69; }
exec 9>>"$L.flock"; flock -w 120 9 || { echo "cannot get $L.flock within 120 s" >&2; exit 75; }
${LOCK_FNS}
${snapshotDigestFunctions(t, seen.watched)}
cur=$(rp_record | base64 -w0); expect=${shq(expect)}
if [ -e "$L" ] && [ "$expect" != '*' ] && [ "$expect" != "rec:$cur" ]; then
  rp_held
elif [ "$(rp_serial)" != ${shq(seen.serial)} ]; then
  rp_frame lock moved run
elif [ "$(rp_digest)" != ${shq(seen.digest)} ]; then
  rp_frame lock moved files; rp_fresh
else
  echo $(( $(rp_serial) + 1 )) > "$L.serial.new.$$"
  { printf %s ${shq(owner)}; echo "boot_id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)"; } > "$L.new.$$"
  rp_fsync "$L.serial.new.$$" "$L.new.$$"
  mv -f "$L.serial.new.$$" "$L.serial"; rm -rf "$L"; mv -f "$L.new.$$" "$L"; rp_fsync "$(dirname "$L")"
  rp_frame lock acquired
fi
exec 9>&-`;
}

function parseOwner(text: string): LockOwner {
  const kv = Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return {
    controller: kv.controller ?? 'unknown',
    pid: Number(kv.pid ?? 0),
    started: kv.started ?? 'unknown',
    boot_id: kv.boot_id ?? '',
    token: kv.token,
  };
}

/** A lock is stale when the host rebooted since, or its run was on this machine and is gone. */
export function staleReason(o: LockOwner, bootId: string): string | undefined {
  // Our own locks always have a record (renamed into place whole); one without is an older
  // version's lock directory, maybe being created right now: stale only once it is old.
  if (!o.boot_id && o.pid === 0) {
    if (o.beforeBoot) return 'it has no owner record and was written before the host last booted';
    return (o.ageS ?? 0) > RECORDLESS_STALE_S
      ? `it has no owner record and is ${o.ageS} s old: the run that took it died while taking it`
      : undefined;
  }
  if (o.boot_id && bootId && o.boot_id !== bootId)
    return `taken by ${o.controller} pid ${o.pid} before the host last rebooted`;
  if (o.controller === hostname() && o.pid > 0 && !pidAlive(o.pid))
    return `its run (pid ${o.pid} on this machine) is no longer running`;
  return undefined;
}
