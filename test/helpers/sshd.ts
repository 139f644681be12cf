import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shq } from '../../src/shell.ts';
import { machineLimit } from './machine.ts';

export type HostKeyType = 'ed25519' | 'ecdsa' | 'rsa';

export interface StartSshdOptions {
  /** Listen on this port (e.g. to replace another sshd with one holding a different host key). */
  port?: number;
  /** Host keys the server offers; the first one is written to knownHostsFile. */
  hostKeyTypes?: HostKeyType[];
  /** Run sshd in a private mount namespace with an overlay over /etc whose writable layer is
   *  `<privateEtc>/upper`: sessions can edit /etc (fstab…) and mount filesystems without
   *  touching the machine's own. */
  privateEtc?: string;
  /** Extra login users, added to the overlay's /etc only (the machine's own is untouched).
   *  Each logs in with `identity`, like root, and has its own home under `dir`. */
  users?: SshdUser[];
  /** Loopback address to listen on (default 127.0.0.1), e.g. 127.0.0.2 for a second machine. */
  address?: string;
}

export interface SshdUser {
  name: string;
  /** Login password, hashed into the overlay's /etc/shadow: what sudo asks for. */
  password: string;
  /** A sudoers.d entry: 'password' (`ALL=(ALL:ALL) ALL`, sudo asks for the password) or
   *  'nopasswd'; none when unset. */
  sudo?: 'password' | 'nopasswd';
}

export interface Sshd {
  /** The address it listens on. */
  host: string;
  port: number;
  user: 'root';
  /** Private key authorized to log in as root. */
  identity: string;
  /** The host's (first) public key as a known_hosts line for `[address]:port`. */
  hostKeyLine: string;
  /** One known_hosts line per host key, in the order of hostKeyTypes. */
  hostKeyLines: string[];
  /** A known_hosts file containing only hostKeyLine. */
  knownHostsFile: string;
  /** Temp folder holding keys, config and pid file. */
  dir: string;
  /** Kills sshd and every session it forked, keeping its files (a host going down). */
  kill(): Promise<void>;
  /** Starts sshd again on the same port with the same keys. */
  restart(): Promise<void>;
  /** Kills sshd and removes its folder. */
  stop(): Promise<void>;
}

const SSHD = '/usr/sbin/sshd';

/** Starts a real OpenSSH server on 127.0.0.1 (or `address`) with generated host and user keys. */
export async function startSshd(opts: StartSshdOptions = {}): Promise<Sshd> {
  const keyTypes = opts.hostKeyTypes ?? ['ed25519'];
  const address = opts.address ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(address));
  const dir = mkdtempSync(join(tmpdir(), 'rp-sshd-'));
  const hostKeys = keyTypes.map((t) => join(dir, `ssh_host_${t}_key`));
  const identity = join(dir, 'id_ed25519');
  for (const [i, t] of keyTypes.entries()) keygen(t, hostKeys[i]);
  keygen('ed25519', identity);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${identity}.pub`), { mode: 0o644 });
  const users = opts.users ?? [];
  // sshd reads authorized_keys as the logging-in user: other users must be able to reach it.
  if (users.length) chmodSync(dir, 0o711);
  const hostKeyLines = hostKeys.map((k) => {
    const [type, b64] = readFileSync(`${k}.pub`, 'utf8').trim().split(/\s+/);
    return `[${address}]:${port} ${type} ${b64}`;
  });
  const hostKeyLine = hostKeyLines[0];
  const knownHostsFile = join(dir, 'known_hosts');
  writeFileSync(knownHostsFile, `${hostKeyLine}\n`, { mode: 0o600 });
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      `ListenAddress ${address}`,
      ...hostKeys.map((k) => `HostKey ${k}`),
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'Subsystem sftp internal-sftp',
      'LogLevel INFO',
      '',
    ].join('\n'),
  );
  // Debian's sshd refuses to start without its privilege separation directory.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  let proc: ChildProcess | undefined;
  const launch = async () => {
    proc = await spawnSshd(config, address, port, opts.privateEtc, usersScript(users, dir));
  };
  const kill = async () => {
    if (proc) await killTree(proc);
    proc = undefined;
  };
  await launch().catch((e) => {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  return {
    host: address,
    port,
    user: 'root',
    identity,
    hostKeyLine,
    hostKeyLines,
    knownHostsFile,
    dir,
    kill,
    restart: async () => {
      await kill();
      await launch();
    },
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A key pair without a passphrase: `file` and `file.pub`. */
export function keygen(type: HostKeyType, file: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'rp-test', '-f', file], { stdio: 'ignore' });
}

/** A TCP port that nothing listens on right now. */
export async function freePort(address = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, address, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Shell lines, run in the namespace after the overlay is mounted, adding each user to its
 *  /etc (passwd, shadow, group, sudoers.d); idempotent, as a restart runs them again. */
function usersScript(users: SshdUser[], dir: string): string {
  if (!users.length) return '';
  const taken = new Set(
    readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((l) => l.split(':')[2]),
  );
  let uid = 64000;
  return users
    .map((u) => {
      if (!/^[a-z_][a-z0-9_-]*$/.test(u.name)) throw new Error(`sshd test user: bad name ${u.name}`);
      while (taken.has(String(uid))) uid++;
      taken.add(String(uid));
      const home = join(dir, `home-${u.name}`);
      const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], {
        input: `${u.password}\n`,
        encoding: 'utf8',
      }).trim();
      const sudoers = `/etc/sudoers.d/rp-test-${u.name}`;
      return [
        `if ! grep -q ${shq(`^${u.name}:`)} /etc/passwd; then`,
        `  echo ${shq(`${u.name}:x:${uid}:${uid}::${home}:/bin/sh`)} >> /etc/passwd`,
        `  echo ${shq(`${u.name}:${hash}:19000:0:99999:7:::`)} >> /etc/shadow`,
        `  echo ${shq(`${u.name}:x:${uid}:`)} >> /etc/group`,
        'fi',
        `mkdir -p ${shq(home)} && chown ${uid}:${uid} ${shq(home)} && chmod 0700 ${shq(home)}`,
        u.sudo
          ? `echo ${shq(`${u.name} ALL=(ALL:ALL) ${u.sudo === 'nopasswd' ? 'NOPASSWD: ' : ''}ALL`)} > ${sudoers} && chmod 0440 ${sudoers}`
          : `rm -f ${sudoers}`,
      ].join('\n');
    })
    .join('\n');
}

async function spawnSshd(
  config: string,
  address: string,
  port: number,
  privateEtc?: string,
  setup = '',
): Promise<ChildProcess> {
  // Always a private mount namespace with an overlay over /etc: root's login shell there is
  // /bin/sh, so sessions do not source this machine's ~/.bashrc (pyenv's rehash lock there
  // hangs every later session once a test kills one mid-rehash), and sessions may edit /etc.
  const etc = privateEtc ?? `${config.replace(/\/[^/]*$/, '')}/etc`;
  const overlay = [
    'mkdir -p "$1/upper" "$1/work"',
    'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc',
    "sed -i 's#^\\(root:.*:\\)[^:]*$#\\1/bin/sh#' /etc/passwd",
  ].join(' && ');
  const script = `${overlay}${setup ? ` && (set -e\n${setup}\n)` : ''} && exec ${SSHD} -D -e -f "$2"`;
  const proc = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', etc, config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr!.on('data', (b: Buffer) => {
    log = (log + b.toString()).slice(-4000);
  });
  let exited = false;
  proc.on('exit', () => {
    exited = true;
  });
  const deadline = Date.now() + machineLimit(250);
  while (!(await accepts(address, port))) {
    if (exited) throw new Error(`sshd exited before listening on ${address}:${port}:\n${log}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`sshd did not listen on ${address}:${port} within ${machineLimit(250) / 1000} s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return proc;
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Per-connection sshd processes outlive the listener, so kill the whole tree, parents
 *  first: connections drop before their commands could report an exit status, as when a
 *  host goes down. */
async function killTree(proc: ChildProcess): Promise<void> {
  const pids = [proc.pid!, ...descendants(proc.pid!)];
  const exited =
    proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((r) => proc.once('exit', r));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  await exited;
}

function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      /* process ended while listing */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}
