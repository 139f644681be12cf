import { spawn, execFileSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshTransport } from '../../src/transport/ssh.ts';
import { CLI } from '../helpers/cli.ts';
import { startSshd, type Sshd } from '../helpers/sshd.ts';

// A fleet reached through a bastion, as ~/.ssh/config says: two real sshd's on loopback, the
// bastion on 127.0.0.2 and the target on 127.0.0.3. The target's ssh_config HostName,
// `target.internal`, resolves only in the bastion's /etc/hosts (its sshd runs with an /etc of
// its own), so this machine cannot reach the target by it: only a connection forwarded by the
// bastion can. The inventory names only the alias.
let dir: string;
let home: string;
let bastion: Sshd;
let target: Sshd;
let config: string;
let known: string;

const INTERNAL = 'target.internal';

const sshdPid = (s: Sshd) => readFileSync(join(s.dir, 'sshd.pid'), 'utf8').trim();

/** The processes (pid, parent, ...) owning the client end of the transport's connection, as the host sees it. */
async function clientEndOwners(t: SshTransport): Promise<string[]> {
  const r = await t.exec(
    'set -- $SSH_CONNECTION; p=$(ss -Htnp "( sport = :$2 )" | grep -o "pid=[0-9]*" | head -1 | cut -d= -f2); while [ -n "$p" ] && [ "$p" != 1 ]; do printf "%s " "$p"; p=$(cut -d" " -f4 /proc/$p/stat); done',
  );
  return r.stdout.trim().split(' ');
}

const cli = (env: Record<string, string>, ...args: string[]) =>
  execa('node', [CLI, ...args], { reject: false, env: { NO_COLOR: '1', HOME: home, SSH_AUTH_SOCK: '', ...env } });

function inventory(vars: string, hosts: string[] = []): string {
  const file = join(dir, `inv-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, `all:\n  vars:\n${vars}  hosts:\n    web1:\n${hosts.map((h) => `    ${h}:\n`).join('')}`);
  return file;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rp-sshcfg-'));
  home = join(dir, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true });
  const bastionEtc = join(dir, 'bastion-etc');
  mkdirSync(join(bastionEtc, 'upper'), { recursive: true });
  writeFileSync(join(bastionEtc, 'upper', 'hosts'), `${readFileSync('/etc/hosts', 'utf8')}\n127.0.0.3 ${INTERNAL}\n`);
  [bastion, target] = await Promise.all([
    startSshd({ address: '127.0.0.2', privateEtc: bastionEtc }),
    startSshd({ address: '127.0.0.3' }),
  ]);
  // IdentityFile with tokens: %h is the HostName, %r the remote user.
  mkdirSync(join(dir, 'keys'));
  copyFileSync(target.identity, join(dir, 'keys', `${INTERNAL}_root`));
  config = join(dir, 'ssh_config');
  writeFileSync(
    config,
    `# the fleet
Host bastion
  HostName 127.0.0.2
  Port ${bastion.port}
  User root
  IdentityFile ${bastion.identity}

Host web? !web9
  HostName ${INTERNAL}
  Port ${target.port}
  User root
  IdentityFile ${dir}/keys/%h_%r
  ProxyJump bastion

Host *
  User nobody
  Port 1
`,
  );
  known = join(dir, 'known_hosts');
  writeFileSync(known, `${bastion.hostKeyLine}\n${target.hostKeyLine.replace('127.0.0.3', INTERNAL)}\n`);
});

afterAll(async () => {
  await Promise.all([bastion?.stop(), target?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('ssh_config and ProxyJump', () => {
  it('applies a playbook to a host named by its ssh_config alias only, through the bastion, and converges', async () => {
    const record = join(dir, 'connection');
    const playbook = join(dir, 'play.yaml');
    writeFileSync(
      playbook,
      `- name: record how the host was reached
  hosts: all
  steps:
    - name: the SSH connection as the host saw it, and the processes owning its client end
      command:
        cmd: 'set -- $SSH_CONNECTION; p=$(ss -Htnp "( sport = :$2 )" | grep -o "pid=[0-9]*" | head -1 | cut -d= -f2); while [ -n "$p" ] && [ "$p" != 1 ]; do printf "%s " "$p"; p=$(cut -d" " -f4 /proc/$p/stat); done > ${record}-{{ inventory_hostname }}.pids; echo "$SSH_CONNECTION" > ${record}-{{ inventory_hostname }}'
        creates: ${record}-{{ inventory_hostname }}
`,
    );
    // This machine cannot reach the target by that name: only the bastion can.
    await expect(lookup(INTERNAL)).rejects.toThrow();
    const inv = inventory(`    known_hosts: ${known}\n    ssh_config: ${config}\n`);
    const first = await cli({}, 'apply', '-i', inv, playbook, '--json');
    expect(first.exitCode, first.stderr + first.stdout).toBe(0);
    const run = JSON.parse(first.stdout);
    expect(run.hosts[0]).toMatchObject({ host: 'web1', status: 'changed', target: `root@${INTERNAL}:${target.port}` });

    // The target saw the connection arrive at 127.0.0.3, from a socket of the bastion's sshd.
    const [, clientPort, serverIp, serverPort] = readFileSync(`${record}-web1`, 'utf8').trim().split(' ');
    expect([serverIp, serverPort]).toEqual(['127.0.0.3', String(target.port)]);
    const chain = readFileSync(`${record}-web1.pids`, 'utf8').trim().split(' ');
    expect(chain, `processes owning port ${clientPort}`).toContain(sshdPid(bastion));
    expect(chain).not.toContain(sshdPid(target));

    const again = await cli({}, 'apply', '-i', inv, playbook, '--json');
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).totals.changed).toBe(0);
  });

  it('reads $RAMSTER_SSH_CONFIG, and the inventory wins over it', async () => {
    const facts = await cli(
      { RAMSTER_SSH_CONFIG: config },
      'facts',
      '-i',
      inventory(`    known_hosts: ${known}\n`),
      '--json',
    );
    expect(facts.exitCode, facts.stderr + facts.stdout).toBe(0);
    expect(JSON.parse(facts.stdout).web1).toMatchObject({ user: 'root' });
    // The inventory's port beats ssh_config's: nothing listens on port 9 behind the bastion.
    const wrongPort = await cli(
      { RAMSTER_SSH_CONFIG: config },
      'facts',
      '-i',
      inventory(`    known_hosts: ${known}\n    port: 9\n`),
      '--json',
    );
    expect(wrongPort.exitCode).not.toBe(0);
    expect(JSON.parse(wrongPort.stdout).web1.unreachable).toContain(
      `the jump host could not open a connection to ${INTERNAL}:9`,
    );
  });

  it('refuses a bastion whose host key does not match known_hosts, naming the hop', async () => {
    const other = await startSshd({ address: '127.0.0.2' });
    try {
      const wrong = join(dir, 'wrong_known_hosts');
      writeFileSync(
        wrong,
        `${other.hostKeyLine.replace(`:${other.port}`, `:${bastion.port}`)}\n${readFileSync(known, 'utf8').split('\n')[1]}\n`,
      );
      const r = await cli(
        {},
        'facts',
        '-i',
        inventory(`    known_hosts: ${wrong}\n    ssh_config: ${config}\n`),
        '--json',
      );
      expect(r.exitCode).not.toBe(0);
      const message: string = JSON.parse(r.stdout).web1.unreachable;
      expect(message).toContain(
        `on the way to web1 (${INTERNAL}:${target.port}): jump host bastion (127.0.0.2:${bastion.port}): HOST KEY CHANGED`,
      );
      expect(message).not.toContain('BEGIN OPENSSH PRIVATE KEY');
    } finally {
      await other.stop();
    }
  });

  it("logs in to every hop with the ssh-agent's keys when nothing names a key, leaving an encrypted default key to the agent", async () => {
    const agentHome = join(dir, 'agent-home');
    mkdirSync(join(agentHome, '.ssh'), { recursive: true });
    // ~/.ssh/id_ed25519 is the target's key under a passphrase: the agent holds it unlocked.
    const encrypted = join(agentHome, '.ssh', 'id_ed25519');
    copyFileSync(target.identity, encrypted);
    execFileSync('ssh-keygen', ['-q', '-p', '-N', 'secret', '-P', '', '-f', encrypted], { stdio: 'ignore' });
    const noKeys = join(dir, 'ssh_config_no_keys');
    writeFileSync(noKeys, readFileSync(config, 'utf8').replace(/^\s*IdentityFile .*\n/gm, ''));
    const sock = join(dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100; i++) {
        try {
          execFileSync('ssh-add', ['-l'], { env: { SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
          break;
        } catch (e) {
          if ((e as { status?: number }).status === 1) break; // running, no keys yet
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      execFileSync('ssh-add', ['-q', bastion.identity, target.identity], {
        env: { SSH_AUTH_SOCK: sock },
        stdio: 'ignore',
      });
      const r = await execa(
        'node',
        [CLI, 'facts', '-i', inventory(`    known_hosts: ${known}\n    ssh_config: ${noKeys}\n`), '--json'],
        {
          reject: false,
          env: { NO_COLOR: '1', HOME: agentHome, SSH_AUTH_SOCK: sock },
        },
      );
      expect(r.exitCode, r.stderr + r.stdout).toBe(0);
      expect(JSON.parse(r.stdout).web1).toMatchObject({ user: 'root' });
    } finally {
      agent.kill();
    }
  });

  it('shares one bastion connection between the hosts behind it, and lets it go with the last one', async () => {
    const jumps = [
      { alias: 'bastion', host: '127.0.0.2', port: bastion.port, username: 'root', identityFiles: [bastion.identity] },
    ];
    const open = () =>
      new SshTransport({
        host: INTERNAL,
        port: target.port,
        username: 'root',
        identity: target.identity,
        jumps,
        knownHostsFile: known,
        connectTimeoutMs: 30_000,
      });
    const [a, b] = [open(), open()];
    await Promise.all([a.connect(), b.connect()]);
    const [ownersA, ownersB] = await Promise.all([clientEndOwners(a), clientEndOwners(b)]);
    expect(ownersA).toContain(sshdPid(bastion));
    // The same sshd session process of the bastion forwards both.
    expect(ownersA[0]).toBe(ownersB[0]);
    const session = ownersA[0];
    await a.close();
    expect((await b.exec('echo still')).stdout).toBe('still\n');
    await b.close();
    // With the last host gone, the bastion's session for them ends.
    for (let i = 0; i < 100 && existsSync(`/proc/${session}`); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(`/proc/${session}`)).toBe(false);
    // A host after that logs in to the bastion again.
    const c = open();
    expect((await clientEndOwners(c))[0]).not.toBe(ownersA[0]);
    await c.close();
  });
});
