import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { aptGet } from '../../src/guestimage/apt.ts';
import { REPO_ROOT } from '../../src/guestimage/paths.ts';

// The real apt-get and a real lock holder (fcntl, as apt and dpkg lock), on a sandboxed apt:
// APT_CONFIG points every apt directory (the dpkg lock's directory, the lists, the cache, the
// state) into a temp folder with no sources, so the machine's own locks are never touched and
// nothing gets installed. Its dpkg status lists the packages .ci/install-deps wants, all
// installed; the one dpkg-query reads (DPKG_ADMINDIR) lacks fdisk, so .ci/install-deps decides
// to install it, and `apt-get install fdisk` takes the dpkg frontend lock and finds it installed.
//
// No wall-clock limit on the waits: the holder releases when the waiting line has been seen.
// The tests' own limit (5 min) only catches a hang; apt-get here takes well under a second idle.
const LIMIT_MS = 300_000;

const box = mkdtempSync(join(tmpdir(), 'rp-apt-lock-'));
const dirs = ['state/lists/partial', 'cache/archives/partial', 'parts', 'sources.d', 'log', 'query'];
for (const d of dirs) mkdirSync(join(box, d), { recursive: true });
const wanted = /^PKGS="([^"]+)"$/m.exec(readFileSync(join(REPO_ROOT, '.ci/install-deps'), 'utf8'))![1].split(' ');
const stanza = (pkg: string) =>
  `Package: ${pkg}\nStatus: install ok installed\nVersion: 1.0\nArchitecture: all\nMaintainer: tests <t@example.org>\nDescription: stand-in\n`;
writeFileSync(join(box, 'status'), wanted.map(stanza).join('\n'));
writeFileSync(
  join(box, 'query/status'),
  wanted
    .filter((p) => p !== 'fdisk')
    .map(stanza)
    .join('\n'),
);
writeFileSync(join(box, 'sources.list'), '');
writeFileSync(
  join(box, 'apt.conf'),
  `${[
    `Dir::Etc::parts "${box}/parts";`,
    `Dir::Etc::sourcelist "${box}/sources.list";`,
    `Dir::Etc::sourceparts "${box}/sources.d";`,
    `Dir::State "${box}/state";`,
    `Dir::State::status "${box}/status";`,
    `Dir::Cache "${box}/cache";`,
    `Dir::Log "${box}/log";`,
  ].join('\n')}\n`,
);
const FRONTEND_LOCK = join(box, 'lock-frontend');
const LISTS_LOCK = join(box, 'state/lists/lock');
const env = { ...process.env, APT_CONFIG: join(box, 'apt.conf'), DPKG_ADMINDIR: join(box, 'query') };

const HOLDER = join(box, 'rp-test-apt-lock-holder.py');
writeFileSync(
  HOLDER,
  'import fcntl, os, sys\n' +
    'fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o640)\n' +
    'fcntl.lockf(fd, fcntl.LOCK_EX)\n' +
    'print("locked", flush=True)\n' +
    'sys.stdin.read()\n',
);

let holders: ChildProcess[] = [];

/** A process holding `lock` (fcntl) until it is killed; resolves once the lock is taken. */
async function holdLock(lock: string): Promise<ChildProcess> {
  const p = spawn('python3', [HOLDER, lock], { stdio: ['pipe', 'pipe', 'inherit'] });
  holders.push(p);
  await new Promise<void>((resolve, reject) => {
    p.stdout!.on('data', (b: Buffer) => b.toString().includes('locked') && resolve());
    p.on('exit', (code) => reject(new Error(`the lock holder exited (${code}) before taking ${lock}`)));
  });
  return p;
}

afterEach(() => {
  for (const p of holders) p.kill('SIGKILL');
  holders = [];
});
afterAll(() => rmSync(box, { recursive: true, force: true }));

/** Runs .ci/install-deps; `onWaiting` is called at its first "waiting for" line. */
async function installDeps(waitS: number, onWaiting: () => void = () => {}) {
  const child = execa(join(REPO_ROOT, '.ci/install-deps'), {
    env: { ...env, APT_LOCK_WAIT: String(waitS) },
    reject: false,
    all: true,
  });
  let seen = false;
  child.stderr!.on('data', (b: Buffer) => {
    if (!seen && b.toString().includes('waiting for')) {
      seen = true;
      onWaiting();
    }
  });
  return child;
}

describe('.ci/install-deps with apt busy', () => {
  it(
    'waits for the lists lock (apt-get update), naming its holder, then proceeds',
    async () => {
      const holder = await holdLock(LISTS_LOCK);
      const r = await installDeps(600, () => holder.kill());
      expect(r.exitCode, r.all).toBe(0);
      expect(r.stdout).toBe('installing: fdisk');
      expect(r.stderr).toContain(`apt-get update: waiting for ${LISTS_LOCK}, held by pid ${holder.pid}: `);
      expect(r.stderr).toContain(`python3 ${HOLDER} ${LISTS_LOCK}`);
    },
    LIMIT_MS,
  );

  it(
    'waits for the dpkg frontend lock (apt-get install), then proceeds',
    async () => {
      const holder = await holdLock(FRONTEND_LOCK);
      const r = await installDeps(600, () => holder.kill());
      expect(r.exitCode, r.all).toBe(0);
      expect(r.stderr).toMatch(
        new RegExp(
          `^apt-get install: waiting for ${FRONTEND_LOCK}, held by pid ${holder.pid}: \\S*python3 ${HOLDER} ${FRONTEND_LOCK} \\(\\d+ s, at most 600 s\\)$`,
          'm',
        ),
      );
    },
    LIMIT_MS,
  );

  it(
    'held past the bound: fails naming the holder (pid and command line) and how to wait longer',
    async () => {
      const holder = await holdLock(FRONTEND_LOCK);
      const r = await installDeps(2);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(
          `^apt-get install: gave up after \\d+ s: ${FRONTEND_LOCK} is held by pid ${holder.pid}: \\S*python3 ${HOLDER} ${FRONTEND_LOCK}$`,
          'm',
        ),
      );
      expect(r.stderr).toContain('APT_LOCK_WAIT=<seconds> (now 2)');
    },
    LIMIT_MS,
  );

  it(
    "a failure that is not the lock fails at once with apt's message",
    async () => {
      const r = await execa(join(REPO_ROOT, '.ci/apt-get-wait'), ['install', '-y', 'rp-no-such-package'], {
        env,
        reject: false,
      });
      expect(r.exitCode).toBe(100);
      expect(r.stderr).toContain('E: Unable to locate package rp-no-such-package');
      expect(r.stderr).not.toContain('waiting for');
    },
    LIMIT_MS,
  );
});

describe('lab up --install-deps: aptGet with apt busy', () => {
  it(
    'waits for the dpkg frontend lock with a line naming the holder, then proceeds',
    async () => {
      const holder = await holdLock(FRONTEND_LOCK);
      const lines: string[] = [];
      const out = await aptGet(['install', '-y', 'fdisk'], {
        waitS: 600,
        env,
        log: (l) => {
          lines.push(l);
          holder.kill();
        },
      });
      expect(out).toContain('fdisk is already the newest version');
      expect(lines[0]).toMatch(
        new RegExp(
          `^apt-get install: waiting for ${FRONTEND_LOCK}, held by pid ${holder.pid}: \\S*python3 ${HOLDER} ${FRONTEND_LOCK} \\(\\d+ s, at most 600 s\\)$`,
        ),
      );
    },
    LIMIT_MS,
  );

  it(
    'held past the bound (lists lock): a ToolError naming the holder',
    async () => {
      const holder = await holdLock(LISTS_LOCK);
      const err = await aptGet(['update'], { waitS: 1, env, log: () => {} }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(
        new RegExp(
          `^apt-get update: gave up after \\d+ s: ${LISTS_LOCK} is held by pid ${holder.pid}: \\S*python3 ${HOLDER} ${LISTS_LOCK}$`,
          'm',
        ),
      );
      expect((err as { hint?: string }).hint).toContain('apt-daily');
    },
    LIMIT_MS,
  );
});
