/** Shared fixtures for the QEMU lab suites: a lab per test file in test/.tmp, timings, and
 *  process checks that look for QEMU by the lab directory in its command line. */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  ensureImage,
  guestOf,
  labCacheDir,
  labDown,
  labImageKind,
  labUp,
  sshCheck,
  sshTarget,
  type LabState,
  type LabUpOptions,
} from '../../src/lab/index.ts';
import { REPO_ROOT } from '../../src/guestimage/paths.ts';
import { labLimit } from '../helpers/machine.ts';

export const TMP = join(REPO_ROOT, 'test', '.tmp');

/** A fresh lab directory for one suite. */
export function labTestDir(name: string): string {
  const dir = join(TMP, `lab-${name}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function labLog(prefix: string): (line: string) => void {
  const start = Date.now();
  return (line) => console.log(`[${prefix} +${((Date.now() - start) / 1000).toFixed(1)}s] ${line}`);
}

export interface TestLab {
  state: LabState;
  dir: string;
  /** Time to build the image in this run, or undefined when it came from the cache. */
  imageBuildMs?: number;
  /** Time from `labUp` (image cached) until every guest answered over SSH. */
  upMs: number;
}

/** Builds the image if needed (timed separately), then boots a fresh lab. */
export async function upTestLab(name: string, opts: Partial<LabUpOptions> = {}): Promise<TestLab> {
  const dir = labTestDir(name);
  const log = labLog(name);
  const image = await ensureImage(labCacheDir(), { log }, labImageKind(opts));
  const start = Date.now();
  const state = await labUp({
    nodes: 2,
    memoryMb: 1024,
    backend: 'legacy',
    dir,
    installDeps: false,
    log,
    fresh: true,
    ...opts,
  });
  return { state, dir, imageBuildMs: image.built ? image.buildMs : undefined, upMs: Date.now() - start };
}

/** Stops the lab; the directory (disks, console logs) is removed only when asked. */
export async function downTestLab(dir: string, opts: { remove?: boolean } = {}): Promise<void> {
  await labDown(dir);
  if (opts.remove) rmSync(dir, { recursive: true, force: true });
}

/** Runs a script on a guest as root over SSH (host key checked); throws on failure. */
export function onGuest(
  state: LabState,
  name: string,
  script: string,
  timeoutMs = labLimit(120_000),
  input?: string,
): Promise<string> {
  return sshCheck(sshTarget(state, guestOf(state, name)), script, { timeoutMs, input });
}

/** Pids of live processes whose command line mentions the lab directory (QEMU, supervisors). */
export function labProcesses(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(`${dir}/`)) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** Appends measured timings to test/.tmp/lab-timings.json and prints them. */
export function recordTimings(suite: string, timings: Record<string, number | undefined>): void {
  const file = join(TMP, 'lab-timings.json');
  const all = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as unknown[]) : [];
  const entry = {
    suite,
    at: new Date().toISOString(),
    seconds: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, v === undefined ? null : v / 1000])),
  };
  all.push(entry);
  mkdirSync(TMP, { recursive: true });
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
  console.log(`[lab timings] ${JSON.stringify(entry.seconds)}`);
}
