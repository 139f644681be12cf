import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshd, type Sshd } from '../helpers/sshd.ts';
import { machineLimit } from '../helpers/machine.ts';
import { CLI } from '../helpers/cli.ts';

// Faults against a real sshd. After each: the recap says what happened, no half-written
// file and no lock are left behind, and the next apply converges.
let sshd: Sshd;
let dir: string;

const inventory = (port = sshd.port) => {
  const f = join(dir, `inv-${port}.yaml`);
  writeFileSync(
    f,
    `all:\n  vars: {known_hosts: ${sshd.knownHostsFile}, out: ${dir}/out}\n  hosts:\n    node1: {address: 127.0.0.1, port: ${port}, identity: ${sshd.identity}}\n`,
  );
  return f;
};
const playbook = (name: string, steps: string) => {
  const f = join(dir, `${name}.yaml`);
  writeFileSync(f, `- hosts: all\n  steps:\n${steps}`);
  return f;
};
const cli = (...args: string[]) => execa('node', [CLI, ...args, '--json'], { reject: false, env: { NO_COLOR: '1' } });
// /var is not overlaid: the host's lock lives in this machine's /var/lib.
const lockLeft = () => existsSync('/var/lib/ramster-provision/lock');

async function waitFor(path: string): Promise<void> {
  const deadline = Date.now() + machineLimit(1_000);
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} never appeared`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Atomic-write temp files (`.<name>.rp-tmp.<pid>`) in a folder. */
const tempFilesIn = (d: string) => readdirSync(d).filter((f) => f.includes('.rp-tmp.'));

/** The step timeout kills the command on the host, not only the controller's wait for it. */
async function noProcess(cmdline: string): Promise<void> {
  const deadline = Date.now() + machineLimit(1_000);
  for (;;) {
    const r = await execa('pgrep', ['-f', `^${cmdline}$`], { reject: false });
    if (r.exitCode === 1) return;
    if (Date.now() > deadline)
      throw new Error(`still running on the host after the step timeout: ${cmdline} (pid ${r.stdout.trim()})`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rp-faults-'));
  sshd = await startSshd({ privateEtc: join(dir, 'etc') });
});
afterAll(async () => {
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('faults', () => {
  it('a host unreachable from the start is reported unreachable (exit 4)', async () => {
    const r = await cli(
      'apply',
      '-i',
      inventory(1),
      playbook('one', `    - file: {path: "{{ out }}/a", content: "a"}\n`),
      '--connect-timeout',
      '2',
    );
    expect(r.exitCode).toBe(4);
    const doc = JSON.parse(r.stdout);
    expect(doc.hosts[0]).toMatchObject({ status: 'unreachable' });
    expect(doc.hosts[0].error).toMatch(/127\.0\.0\.1:1.*refused/i);
  });

  it('a hanging command is stopped by the step timeout; the host fails, the lock is released; the next apply converges', async () => {
    // The command hangs until its gate file exists (the operator fixing the cause).
    const out = join(dir, 'out');
    mkdirSync(out, { recursive: true });
    const pb = playbook(
      'hang',
      `    - name: hangs
      command: {cmd: "test -e ${out}/gate-cmd || sleep 611; touch ${out}/hang-done", creates: ${out}/hang-done}
    - file: {path: ${out}/after-hang, content: "x"}
`,
    );
    const started = Date.now();
    const r = await cli('apply', '-i', inventory(), pb, '--step-timeout', '2');
    expect(Date.now() - started).toBeLessThan(611_000); // the step timeout ended the 611 s sleep
    expect(r.exitCode).toBe(3);
    const host = JSON.parse(r.stdout).hosts[0];
    expect(host.status).toBe('failed');
    expect(host.error).toMatch(/timed out after 2000 ms/);
    expect(existsSync(join(out, 'after-hang'))).toBe(false);
    expect(lockLeft()).toBe(false);
    await noProcess('sleep 611');

    writeFileSync(join(out, 'gate-cmd'), '');
    const again = await cli('apply', '-i', inventory(), pb, '--step-timeout', '2');
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).hosts[0].steps.map((s: { status: string }) => s.status)).toEqual([
      'changed',
      'changed',
    ]);
    expect(readFileSync(join(out, 'after-hang'), 'utf8')).toBe('x');
    expect(tempFilesIn(out)).toEqual([]);
    expect(JSON.parse((await cli('apply', '-i', inventory(), pb, '--step-timeout', '2')).stdout).totals.changed).toBe(
      0,
    );
  });

  // The timeout ends writeFileAtomic's `sh` with SIGTERM, which in dash skips the EXIT trap
  // unless a TERM trap exits: this is what keeps the temp file from staying behind.
  it('a file write whose validate command hangs: stopped by the step timeout, the old file intact, no temp file left; the next apply converges', async () => {
    const out = join(dir, 'out-validate');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'validated'), 'old\n');
    const pb = playbook(
      'hang-validate',
      `    - file: {path: ${out}/validated, content: "new\\n", validate: "test -e ${out}/gate || sleep 612; test -s %s"}\n`,
    );
    const r = await cli('apply', '-i', inventory(), pb, '--step-timeout', '2');
    expect(r.exitCode, r.stdout).toBe(3);
    expect(JSON.parse(r.stdout).hosts[0].error).toMatch(/timed out after 2000 ms/);
    expect(readFileSync(join(out, 'validated'), 'utf8')).toBe('old\n');
    expect(lockLeft()).toBe(false);
    await noProcess('sleep 612');
    expect(tempFilesIn(out)).toEqual([]);

    writeFileSync(join(out, 'gate'), '');
    const again = await cli('apply', '-i', inventory(), pb, '--step-timeout', '2');
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(readFileSync(join(out, 'validated'), 'utf8')).toBe('new\n');
    expect(tempFilesIn(out)).toEqual([]);
    expect(JSON.parse((await cli('apply', '-i', inventory(), pb, '--step-timeout', '2')).stdout).totals.changed).toBe(
      0,
    );
  });

  it('disk full while writing a file: the old file is intact, no temp file is left; with space freed the next apply converges', async () => {
    // a 64 KiB tmpfs inside sshd's private mount namespace: only commands over SSH see it
    const small = join(dir, 'small');
    const onHost = (name: string, cmd: string) =>
      cli('apply', '-i', inventory(), playbook(name, `    - command: {cmd: ${JSON.stringify(cmd)}}\n`));
    // the folder holds exactly the target (no `.f.rp-tmp.<pid>`) with this many bytes
    const onlyTarget = (bytes: number) =>
      `test "$(ls -A ${small})" = f || { ls -A ${small} >&2; exit 1; }; test "$(wc -c < ${small}/f)" = ${bytes}`;
    const setup = playbook(
      'setup-small',
      `    - command: {cmd: "mkdir -p ${small} && mount -t tmpfs -o size=64k tmpfs ${small} && printf old > ${small}/f", creates: ${small}/f}\n`,
    );
    expect((await cli('apply', '-i', inventory(), setup)).exitCode).toBe(0);
    const big = 'x'.repeat(200 * 1024);
    const pb = playbook('full', `    - file: {path: ${small}/f, content: "${big}"}\n`);
    const r = await cli('apply', '-i', inventory(), pb);
    expect(r.exitCode).toBe(3);
    expect(JSON.parse(r.stdout).hosts[0].error).toMatch(/No space left on device/);
    expect(lockLeft()).toBe(false);
    // checked, then the operator frees space: the same playbook now converges
    const c = await onHost(
      'check-small',
      `test "$(cat ${small}/f)" = old && ${onlyTarget(3)} && mount -o remount,size=1m ${small}`,
    );
    expect(c.exitCode, c.stdout).toBe(0);
    const again = await cli('apply', '-i', inventory(), pb);
    expect(again.exitCode, again.stdout.slice(-2000) + again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).hosts[0].steps.map((s: { status: string }) => s.status)).toEqual(['changed']);
    const c2 = await onHost('check-small-2', onlyTarget(big.length));
    expect(c2.exitCode, c2.stdout).toBe(0);
    expect(JSON.parse((await cli('apply', '-i', inventory(), pb)).stdout).totals.changed).toBe(0);
  });

  it('the connection cut in the middle of a step: unreachable; the next apply converges', async () => {
    const pb = playbook(
      'cut',
      `    - name: slow\n      command: {cmd: "mkdir -p {{ out }}; touch {{ out }}/cut-started; sleep 3; touch {{ out }}/slow-done", creates: "{{ out }}/slow-done"}\n    - file: {path: "{{ out }}/b", content: "b"}\n`,
    );
    const run = cli('apply', '-i', inventory(), pb);
    await waitFor(join(dir, 'out/cut-started'));
    await sshd.kill();
    const r = await run;
    expect(r.exitCode).toBe(4);
    expect(JSON.parse(r.stdout).hosts[0].status).toBe('unreachable');
    await sshd.restart();
    const again = await cli('apply', '-i', inventory(), pb);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(readFileSync(join(dir, 'out/b'), 'utf8')).toBe('b');
    expect(JSON.parse((await cli('apply', '-i', inventory(), pb)).stdout).totals.changed).toBe(0);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)(
    '%s during apply: the step in progress finishes, no new one starts, exit 130, lock released; the next apply converges',
    async (signal) => {
      const n = signal.toLowerCase();
      const pb = playbook(
        n,
        `    - name: slow\n      command: {cmd: "mkdir -p {{ out }}; touch {{ out }}/${n}-started; sleep 3; echo done > {{ out }}/${n}-slow", creates: "{{ out }}/${n}-slow"}\n    - file: {path: "{{ out }}/${n}-after", content: "x"}\n`,
      );
      const run = execa('node', [CLI, 'apply', '-i', inventory(), pb], { reject: false, env: { NO_COLOR: '1' } });
      await waitFor(join(dir, `out/${n}-started`));
      run.kill(signal);
      const r = await run;
      expect(r.exitCode, r.stdout + r.stderr).toBe(130);
      expect(r.stdout).toMatch(/interrupted/);
      expect(readFileSync(join(dir, `out/${n}-slow`), 'utf8')).toBe('done\n');
      expect(existsSync(join(dir, `out/${n}-after`))).toBe(false);
      expect(lockLeft()).toBe(false);
      for (const f of readdirSync(join(dir, 'out'))) expect(f).not.toMatch(/rp-tmp/);
      const again = await cli('apply', '-i', inventory(), pb);
      expect(again.exitCode, again.stdout + again.stderr).toBe(0);
      expect(JSON.parse(again.stdout).hosts[0].steps.map((s: { status: string }) => s.status)).toEqual([
        'ok',
        'changed',
      ]);
    },
  );

  it('a double Ctrl-C: the remote command and everything it started are killed (no orphan on the host), the lock released, exit 130', async () => {
    const out = join(dir, 'out');
    mkdirSync(out, { recursive: true });
    const pb = playbook(
      'double-int',
      `    - command: {cmd: 'sleep 612 & echo $! > ${out}/sleep.pid; wait; touch ${out}/double-finished'}\n`,
    );
    const run = execa('node', [CLI, 'apply', '-i', inventory(), pb], { reject: false, env: { NO_COLOR: '1' } });
    let seen = '';
    run.stdout?.on('data', (b: Buffer) => (seen += b.toString()));
    await waitFor(join(out, 'sleep.pid'));
    run.kill('SIGINT');
    const deadline = Date.now() + 60_000;
    while (!seen.includes('SIGINT: finishing the steps in progress') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    run.kill('SIGINT'); // only once the first was seen: two pending signals would merge into one
    const r = await run;
    expect(r.exitCode, r.stdout + r.stderr).toBe(130);
    expect(r.stdout).toMatch(/SIGINT again: stopping the commands in progress, releasing the host locks/);
    await noProcess('sleep 612');
    expect(existsSync(join(out, 'double-finished'))).toBe(false);
    expect(lockLeft()).toBe(false);
  });
});
