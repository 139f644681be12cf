import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_PATH } from '../../src/engine/hostlock.ts';
import { CLI, errorOf, makeLab, runOn, writeFiles, type Lab } from './helpers.ts';

// Class: RACES ON THE HOST LOCK. One apply per host, really: taking a stale lock is atomic
// (flock-guarded compare of the owner record), a lock being created is not stale, and a double
// interrupt still releases the lock and stops the command group. (The same over SSH, where the
// host's lock is this machine's /var/lib, is in test/integration/faults.test.ts with the other
// tests that hold that lock, so they never overlap.)
let lab: Lab;
beforeEach(() => (lab = makeLab()));
afterEach(() => lab.cleanup());

const bootId = () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const lockFile = () => join(lab.root, LOCK_PATH);

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 120_000; // generous: the machine may be very busy
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Two SIGINTs, the second once the first was seen (two pending signals would merge into one). */
async function interruptTwice(run: ResultPromise): Promise<void> {
  let seen = '';
  run.stdout?.on('data', (b: Buffer) => (seen += b.toString()));
  run.kill('SIGINT');
  await until('the first interrupt to be seen', () => seen.includes('SIGINT: finishing the steps in progress'));
  run.kill('SIGINT');
}

describe('races on the host lock', () => {
  it('five applies started at once on a stale lock: exactly one takes it over and runs', async () => {
    mkdirSync(join(lab.root, 'var/lib/ramster-provision'), { recursive: true });
    writeFileSync(lockFile(), `controller=${hostname()}\npid=999999\nstarted=x\ntoken=dead\nboot_id=${bootId()}\n`); // its run is gone
    const { inv, pb } = writeFiles(
      lab,
      '',
      `- hosts: all\n  steps:\n    - command: {cmd: 'echo "$PPID" >> "$ROOT/runs"; while [ ! -e "$ROOT/release" ]; do sleep 0.2; done'}\n`,
    );
    const runs = Array.from({ length: 5 }, () => execa('node', [CLI, 'apply', '-i', inv, pb], { reject: false, env: { NO_COLOR: '1' } }));
    const done: Awaited<(typeof runs)[number]>[] = [];
    runs.forEach((r) => void r.then((x) => done.push(x)));
    await until('four applies to give up', () => done.length >= 4);
    writeFileSync(join(lab.root, 'release'), '');
    const results = await Promise.all(runs);
    const ran = results.filter((r) => r.exitCode === 0);
    const refused = results.filter((r) => r.exitCode === 3);
    expect(ran.length, results.map((r) => r.stdout + r.stderr).join('\n----\n')).toBe(1);
    expect(refused.length).toBe(4);
    for (const r of refused) expect(r.stdout).toMatch(/being provisioned by another run \(.* pid \d+, since .*\); wait for it \(--lock-wait <s>\)/);
    expect(readFileSync(join(lab.root, 'runs'), 'utf8').trim().split('\n')).toHaveLength(1);
    expect(existsSync(lockFile())).toBe(false);
  });

  it('a lock without an owner record yet (an older run creating it) is not stale; an old one is', async () => {
    const legacy = lockFile();
    mkdirSync(legacy, { recursive: true }); // an older version's lock directory, owner not written yet
    const m = join(lab.root, 'ran');
    const step = `    - command: {cmd: "touch $ROOT/ran"}\n`;
    const r = await runOn(lab, '', step, true);
    expect(errorOf(r)).toMatch(/being provisioned by another run/);
    expect(existsSync(m)).toBe(false);
    const old = new Date(Date.now() - 300_000);
    utimesSync(legacy, old, old);
    const again = await runOn(lab, '', step, true);
    expect(again.hosts[0].status, errorOf(again)).toBe('changed');
    expect(existsSync(m)).toBe(true);
    expect(existsSync(legacy)).toBe(false);
  });

  it('a double Ctrl-C on a folder target: exit 130, the lock is released, the running command and its children are killed', async () => {
    const { inv, pb } = writeFiles(lab, '', `- hosts: all\n  steps:\n    - command: {cmd: 'sleep 600 & echo $! > "$ROOT/sleep.pid"; wait; touch "$ROOT/finished"'}\n`);
    const run = execa('node', [CLI, 'apply', '-i', inv, pb], { reject: false, env: { NO_COLOR: '1' } });
    const pidFile = join(lab.root, 'sleep.pid');
    await until('the command to start', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await interruptTwice(run);
    const r = await run;
    expect(r.exitCode, r.stdout + r.stderr).toBe(130);
    expect(r.stdout).toMatch(/SIGINT again: stopping the commands in progress, releasing the host locks/);
    expect(existsSync(lockFile())).toBe(false);
    await until(`sleep ${pid} to be killed`, () => !alive(pid));
    expect(existsSync(join(lab.root, 'finished'))).toBe(false);
  });
});
