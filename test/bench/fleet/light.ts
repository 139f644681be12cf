/**
 * Lightweight SSH hosts for scale runs: one real sshd per host, each on its own loopback
 * address (127.10.<cluster>.<node + 1>) and in its own mount namespace, where overlays over
 * /etc and /usr/sbin and a tmpfs over /var/lib/ramster-provision give it files of its own. A
 * thousand of them fit where a thousand containers would not: no image, no daemon, ~1 MiB of
 * private memory each. They share one host key and one login key.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import pLimit from 'p-limit';
import { CLUSTER_SIZE, type FleetHost } from './fleet.ts';
import { writeOurInventory } from './inventories.ts';

export interface LightFleet {
  hosts: FleetHost[];
  dir: string;
  identity: string;
  knownHostsFile: string;
  /** ramster-provision's inventory: clusters of 8 (backend legacy), as the container fleet's. */
  inventory: string;
  /** Reads a file as the host sees it. */
  readFile(name: string, path: string): string;
  stop(): Promise<void>;
}

const SSHD = '/usr/sbin/sshd';

/** Mounts the host's private layers, makes root's shell /bin/sh there (no ~/.bashrc of this
 *  machine in its sessions), then becomes sshd (which daemonizes). $1 host dir, $2 config,
 *  $3 address, $4 log. */
const HOST_SCRIPT = [
  'set -e',
  'for d in etc sbin; do mkdir -p "$1/$d/upper" "$1/$d/work"; done',
  'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/etc/upper,workdir=$1/etc/work" /etc',
  'mount -t overlay overlay -o "lowerdir=/usr/sbin,upperdir=$1/sbin/upper,workdir=$1/sbin/work" /usr/sbin',
  'mkdir -p /var/lib/ramster-provision',
  'mount -t tmpfs -o size=16m,mode=0755 rp-light /var/lib/ramster-provision',
  "sed -i 's#^\\(root:.*:\\)[^:]*$#\\1/bin/sh#' /etc/passwd",
  `exec ${SSHD} -f "$2" -o "ListenAddress=$3" -o "PidFile=$1/sshd.pid" -E "$4"`,
].join('\n');

export const lightAddress = (cluster: number, node: number) => `127.10.${cluster}.${node + 1}`;

function keygen(file: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'rp-light', '-f', file], { stdio: 'ignore' });
}

/** A port no socket holds on any address (a wildcard listener would refuse our binds). */
async function freeWildcardPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '0.0.0.0', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
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

function writeConfig(dir: string, port: number, hostKey: string, identity: string): string {
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${identity}.pub`), { mode: 0o644 });
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  return config;
}

function lightHosts(count: number, port: number): FleetHost[] {
  return Array.from({ length: count }, (_, i) => {
    const cluster = Math.floor(i / CLUSTER_SIZE);
    const number = i % CLUSTER_SIZE;
    const address = lightAddress(cluster, number);
    // Written into ramster.conf only, never connected to (this playbook starts no cluster).
    const clusterAddress = `10.77.${cluster}.${number + 1}`;
    return { name: `c${cluster}n${number}`, cluster, number, port, address, clusterAddress, containerId: '' };
  });
}

/** Every sshd of the fleet (by its pid file), killed; sessions have ended with their runs. */
function killAll(dir: string): void {
  for (const name of readdirSync(join(dir, 'hosts'))) {
    try {
      process.kill(Number(readFileSync(join(dir, 'hosts', name, 'sshd.pid'), 'utf8')), 'SIGKILL');
    } catch {
      /* never started, or gone */
    }
  }
}

export async function startLightFleet(o: { hosts: number; log?: (l: string) => void }): Promise<LightFleet> {
  const log = o.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'rp-light-'));
  mkdirSync(join(dir, 'hosts'));
  const hostKey = join(dir, 'host_key');
  const identity = join(dir, 'id_ed25519');
  keygen(hostKey);
  keygen(identity);
  const port = await freeWildcardPort();
  const config = writeConfig(dir, port, hostKey, identity);
  const hosts = lightHosts(o.hosts, port);
  const [type, key] = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
  const knownHostsFile = join(dir, 'known_hosts');
  writeFileSync(knownHostsFile, hosts.map((h) => `[${h.address}]:${port} ${type} ${key}\n`).join(''), { mode: 0o600 });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const fleet: LightFleet = {
    hosts,
    dir,
    identity,
    knownHostsFile,
    inventory: writeOurInventory(dir, hosts, { identity, knownHostsFile }),
    readFile: (name, path) => {
      // The host's own view of its files: its sshd's mount namespace, through /proc.
      const pid = readFileSync(join(dir, 'hosts', name, 'sshd.pid'), 'utf8').trim();
      return readFileSync(`/proc/${pid}/root${path}`, 'utf8');
    },
    stop: async () => {
      killAll(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    log(`starting ${hosts.length} sshd's on 127.10.x.y:${port}`);
    const limit = pLimit(8);
    await Promise.all(
      hosts.map((h) =>
        limit(async () => {
          const hostDir = join(dir, 'hosts', h.name);
          const args = ['--mount', '--propagation', 'private', 'sh', '-c', HOST_SCRIPT, 'sh'];
          await execa('unshare', [...args, hostDir, config, h.address!, join(dir, 'sshd.log')]);
        }),
      ),
    );
    for (const h of hosts) {
      const deadline = Date.now() + 120_000;
      while (!(await accepts(h.address!, port))) {
        if (Date.now() > deadline) throw new Error(`sshd of ${h.name} does not listen on ${h.address}:${port}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    log(`${hosts.length} hosts listening`);
    return fleet;
  } catch (e) {
    await fleet.stop();
    throw e;
  }
}
