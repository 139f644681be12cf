/** apt-get that waits for apt's locks instead of failing at once: a new cloud machine runs apt by
 *  itself for its first minutes (apt-daily, unattended-upgrades). The same rules as
 *  .ci/apt-get-wait: dpkg's lock is waited for by apt (DPkg::Lock::Timeout, in slices), the
 *  lists' lock (`update`), which apt never waits for, by retrying; a line per slice names the
 *  holder, and past the bound it fails naming it (pid and command line). */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { execa } from 'execa';
import { ToolError } from './errors.ts';
import { commandFailed } from '../shell.ts';

export const APT_LOCK_WAIT_S = 900;

export interface AptOptions {
  /** Longest total wait for the locks, in seconds. */
  waitS: number;
  log: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Seconds per wait after the first (1 s, so a held lock is reported at once). */
  sliceS?: number;
}

/** The lock apt could not get, from its own messages. */
export function lockedPath(output: string): string | undefined {
  const paths = [
    ...output.matchAll(
      /Could not get lock (\S+)\. |Unable to acquire the dpkg frontend lock \(([^)]+)\)|Unable to lock directory (\S+)/g,
    ),
  ].map((m) => m[1] ?? m[2] ?? `${m[3]}lock`);
  return paths.at(-1);
}

/** "pid N: command line" of the process holding `lock`: apt names the pid; else whoever has it open. */
export function describeHolder(output: string, lock: string): string {
  const pid = [...output.matchAll(/It is held by process (\d+)/g)].at(-1)?.[1] ?? openerOf(lock);
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .replace(/[\0\s]+/g, ' ')
      .trim()
      .slice(0, 200);
    if (pid && cmd) return `pid ${pid}: ${cmd}`;
  } catch {
    // gone meanwhile
  }
  return pid ? `pid ${pid} (gone now)` : 'a process that has let it go since';
}

function openerOf(path: string): string | undefined {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readdirSync(`/proc/${pid}/fd`).some((fd) => readlinkSyncSafe(`/proc/${pid}/fd/${fd}`) === path)) return pid;
    } catch {
      // not ours to read, or gone
    }
  }
  return undefined;
}

function readlinkSyncSafe(p: string): string | undefined {
  try {
    return readlinkSync(p);
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `apt-get args`; returns its output, throws a ToolError with its last lines or the lock's holder. */
export async function aptGet(args: string[], o: AptOptions): Promise<string> {
  const start = Date.now();
  const boundMs = o.waitS * 1000;
  let slice = 1;
  for (;;) {
    slice = Math.max(1, Math.min(slice, Math.ceil((boundMs - (Date.now() - start)) / 1000)));
    const t0 = Date.now();
    const r = await execa('apt-get', ['-o', `DPkg::Lock::Timeout=${slice}`, ...args], {
      env: { ...(o.env ?? process.env), DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' }, // C: its messages are parsed
      reject: false,
      all: true,
      stdin: 'ignore',
    });
    const output = String(r.all ?? '');
    if (r.exitCode === 0) return output;
    const lock = lockedPath(output);
    if (!lock)
      throw new ToolError(
        commandFailed(`apt-get ${args.join(' ')}`, { code: r.exitCode, signal: r.signal }, { output, lines: 8 }),
      );
    const waited = Math.round((Date.now() - start) / 1000);
    if (Date.now() - start >= boundMs) {
      throw new ToolError(
        `apt-get ${args[0]}: gave up after ${waited} s: ${lock} is held by ${describeHolder(output, lock)}`,
        "a new machine's own apt run (apt-daily, unattended-upgrades) usually ends within minutes; see " +
          '`systemctl status apt-daily.service apt-daily-upgrade.service unattended-upgrades.service`, then run this again',
      );
    }
    o.log(
      `apt-get ${args[0]}: waiting for ${lock}, held by ${describeHolder(output, lock)} (${waited} s, at most ${o.waitS} s)`,
    );
    const spent = Date.now() - t0;
    if (spent < slice * 1000) await sleep(slice * 1000 - spent);
    slice = o.sliceS ?? 10;
  }
}
