import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshd, type Sshd } from '../helpers/sshd.ts';
import { CLI } from '../helpers/cli.ts';

// The example playbook applied over a REAL sshd on 127.0.0.1 through the real CLI. sshd runs
// in a private mount namespace with an overlay over /etc, so the mount step is real but
// cannot touch this machine's fstab or mounts.
let sshd: Sshd;
let dir: string;

const cli = (...args: string[]) => execa('node', [CLI, ...args], { reject: false, env: { NO_COLOR: '1' } });

function inventory(knownHosts: string): string {
  const file = join(dir, `inv-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    `all:
  vars:
    example_dir: ${dir}/root
    known_hosts: ${knownHosts}
  hosts:
    node1:
      address: 127.0.0.1
      port: ${sshd.port}
      user: root
      identity: ${sshd.identity}
`,
  );
  return file;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rp-apply-ssh-'));
  sshd = await startSshd({ privateEtc: join(dir, 'etc') });
});
afterAll(async () => {
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('example playbook over SSH', () => {
  it('plans (exit 2), applies, re-applies with changed == 0, and plans exit 0', async () => {
    const inv = inventory(sshd.knownHostsFile);
    const plan = await cli('plan', '-i', inv, 'playbooks/example.yaml');
    expect(plan.exitCode, plan.stdout + plan.stderr).toBe(2);
    expect(plan.stdout).toContain(`+managed by ramster-provision`);
    expect(plan.stdout).toMatch(/~ create a file with exact content and mode/);
    expect(existsSync(join(dir, 'root/etc/motd'))).toBe(false);

    const apply = await cli('apply', '-i', inv, 'playbooks/example.yaml', '--json');
    expect(apply.exitCode, apply.stderr).toBe(0);
    const first = JSON.parse(apply.stdout);
    expect(first.totals.changed).toBeGreaterThan(5);
    expect(first.totals.failed).toBe(0);
    expect(readFileSync(join(dir, 'root/etc/motd'), 'utf8')).toBe('managed by ramster-provision\n');
    expect(readFileSync(join(dir, 'etc/upper/fstab'), 'utf8')).toContain(
      `tmpfs ${dir}/root/mnt tmpfs size=1m,mode=0755`,
    );
    expect(readFileSync(join(dir, 'root/changes.log'), 'utf8').trim().split('\n')).toHaveLength(1);

    const again = await cli('apply', '-i', inv, 'playbooks/example.yaml', '--json');
    expect(again.exitCode, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout);
    expect(second.hosts[0].counts.changed).toBe(0);
    expect(second.hosts[0].status).toBe('ok');
    expect(readFileSync(join(dir, 'root/changes.log'), 'utf8').trim().split('\n')).toHaveLength(1);

    const noop = await cli('apply', '-i', inv, 'playbooks/example.yaml', '--check', '--diff');
    expect(noop.exitCode, noop.stdout).toBe(0);
    expect(noop.stdout).toContain('nothing to change');
  });

  it('refuses a host whose key does not match known_hosts, showing both fingerprints', async () => {
    const other = await startSshd();
    try {
      const wrong = join(dir, 'wrong_known_hosts');
      writeFileSync(wrong, `${other.hostKeyLine.replace(`:${other.port}`, `:${sshd.port}`)}\n`);
      const inv = inventory(wrong);
      const r = await cli('apply', '-i', inv, 'playbooks/example.yaml', '--accept-new-host-keys');
      expect(r.exitCode).toBe(4);
      expect(r.stdout).toMatch(/unreachable/);
      expect(r.stdout).toMatch(/SHA256:[A-Za-z0-9+/]{43}[\s\S]*SHA256:[A-Za-z0-9+/]{43}/);
      expect(readFileSync(wrong, 'utf8').trim().split('\n')).toHaveLength(1);
    } finally {
      await other.stop();
    }
  });

  it('gathers facts in one command', async () => {
    const r = await cli('facts', '-i', inventory(sshd.knownHostsFile), '--json');
    expect(r.exitCode, r.stderr).toBe(0);
    const facts = JSON.parse(r.stdout).node1;
    expect(facts).toMatchObject({ arch: 'x86_64', os_family: 'debian', package_manager: 'apt', user: 'root' });
    expect(facts.boot_id).toMatch(/^[0-9a-f-]{36}$/);
  });
});
