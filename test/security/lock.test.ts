import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_PATH } from '../../src/engine/hostlock.ts';
import { runPlaybook } from '../../src/engine/run.ts';
import { loadInventory } from '../../src/inventory/load.ts';
import { loadPlaybook } from '../../src/playbook/load.ts';
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

/** Five applies at once of a step that records its run and waits: once four have given up, the
 *  step is released; the five results. */
async function fiveAppliesAtOnce() {
  const { inv, pb } = writeFiles(
    lab,
    '',
    `- hosts: all\n  steps:\n    - command: {cmd: 'echo "$PPID" >> "$ROOT/runs"; while [ ! -e "$ROOT/release" ]; do sleep 0.2; done'}\n`,
  );
  const runs = Array.from({ length: 5 }, () =>
    execa('node', [CLI, 'apply', '-i', inv, pb], { reject: false, env: { NO_COLOR: '1' } }),
  );
  const done: Awaited<(typeof runs)[number]>[] = [];
  runs.forEach((r) => void r.then((x) => done.push(x)));
  await until('four applies to give up', () => done.length >= 4);
  writeFileSync(join(lab.root, 'release'), '');
  return Promise.all(runs);
}

describe('races on the host lock', () => {
  it('five applies started at once on a stale lock: exactly one takes it over and runs', async () => {
    mkdirSync(join(lab.root, 'var/lib/ramster-provision'), { recursive: true });
    writeFileSync(lockFile(), `controller=${hostname()}\npid=999999\nstarted=x\ntoken=dead\nboot_id=${bootId()}\n`); // its run is gone
    const results = await fiveAppliesAtOnce();
    const ran = results.filter((r) => r.exitCode === 0);
    const refused = results.filter((r) => r.exitCode === 3);
    expect(ran.length, results.map((r) => r.stdout + r.stderr).join('\n----\n')).toBe(1);
    expect(refused.length).toBe(4);
    for (const r of refused)
      expect(r.stdout).toMatch(
        /being provisioned by another run \(.* pid \d+, since .*\); wait for it \(--lock-wait <s>\)/,
      );
    expect(readFileSync(join(lab.root, 'runs'), 'utf8').trim().split('\n')).toHaveLength(1);
    expect(existsSync(lockFile())).toBe(false);
  });

  it('five applies started at once on a free host, each with a change to make: exactly one takes the lock and changes it', async () => {
    const results = await fiveAppliesAtOnce();
    expect(
      results.filter((r) => r.exitCode === 0).length,
      results.map((r) => r.stdout + r.stderr).join('\n----\n'),
    ).toBe(1);
    const refused = results.filter((r) => r.exitCode === 3);
    expect(refused.length).toBe(4);
    for (const r of refused)
      expect(r.stdout).toMatch(
        /being provisioned by another run \(.* pid \d+, since .*\)|the host changed after this run read it/,
      );
    expect(readFileSync(join(lab.root, 'runs'), 'utf8').trim().split('\n')).toHaveLength(1);
    expect(existsSync(lockFile())).toBe(false);
  });

  /** Runs `steps` on the lab host, calling `meanwhile` as step `at` (1-based) starts: after the
   *  run's lock-free read, before that step's check. */
  async function applyWith(steps: string, at: number, meanwhile: () => void) {
    const { inv, pb } = writeFiles(lab, '', `- hosts: all\n  steps:\n${steps}`);
    let started = 0;
    const events = { stepStart: () => void (++started === at && meanwhile()) };
    return runPlaybook(await loadInventory(inv), await loadPlaybook(pb), {
      apply: true,
      forks: 1,
      connect: { acceptNewHostKeys: false, connectTimeoutMs: 5000 },
      events,
    });
  }

  it("another apply runs between this one's lock-free read and its first change: this one changes nothing and says so", async () => {
    // This run found /made present (a live check, no file any step declares); the other run
    // removes it before this run's first change. Only the lock's serial can tell.
    writeFileSync(join(lab.root, 'made'), '');
    const other = join(lab.dir, 'other.yaml');
    writeFileSync(
      other,
      `- hosts: all\n  steps:\n    - command: {cmd: 'echo other >> "$ROOT/runs"; rm "$ROOT/made"', removes: /made}\n`,
    );
    const steps = `    - command: {cmd: 'echo this >> "$ROOT/runs"', creates: /made}\n    - file: {path: /etc/x, content: "x\\n"}\n`;
    let otherOut = '';
    const r = await applyWith(steps, 2, () => {
      const o = spawnSync(process.execPath, [CLI, 'apply', '-i', join(lab.dir, 'inv.yaml'), other], {
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      });
      otherOut = o.stdout + o.stderr;
    });
    expect(otherOut).toMatch(/changed=1/);
    expect(r.hosts[0].steps.map((s) => s.status)).toEqual(['ok', 'failed']);
    expect(errorOf(r)).toMatch(
      /the host changed after this run read it \(another run took its lock and released it in between\); this run changed nothing there: apply again/,
    );
    expect(readFileSync(join(lab.root, 'runs'), 'utf8')).toBe('other\n');
    expect(existsSync(join(lab.root, 'etc/x'))).toBe(false);
    expect(existsSync(lockFile())).toBe(false);
  });

  it("a file the steps read changes between the lock-free read and the first change: the apply stops, naming it, and keeps the other writer's bytes", async () => {
    mkdirSync(join(lab.root, 'etc'));
    writeFileSync(join(lab.root, 'etc/app.conf'), 'ours\n');
    const steps = `    - file: {path: /etc/app.conf, content: "ours\\n"}\n    - file: {path: /etc/other.conf, content: "x\\n"}\n`;
    const r = await applyWith(steps, 2, () => writeFileSync(join(lab.root, 'etc/app.conf'), 'theirs\n'));
    expect(r.hosts[0].steps.map((s) => s.status)).toEqual(['ok', 'failed']);
    expect(errorOf(r)).toMatch(/the host changed after this run read it \(changed since: \/etc\/app\.conf\)/);
    expect(readFileSync(join(lab.root, 'etc/app.conf'), 'utf8')).toBe('theirs\n');
    expect(existsSync(join(lab.root, 'etc/other.conf'))).toBe(false);
    expect(existsSync(lockFile())).toBe(false);
    const again = await applyWith(steps, 0, () => undefined);
    expect(again.hosts[0].status, errorOf(again)).toBe('changed');
    expect(readFileSync(join(lab.root, 'etc/app.conf'), 'utf8')).toBe('ours\n');
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
    const { inv, pb } = writeFiles(
      lab,
      '',
      `- hosts: all\n  steps:\n    - command: {cmd: 'sleep 600 & echo $! > "$ROOT/sleep.pid"; wait; touch "$ROOT/finished"'}\n`,
    );
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
