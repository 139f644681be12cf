import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import pLimit from 'p-limit';
import { ensureDocker, type DockerDaemon } from './docker.ts';
import { ensureFleetImage, PRISTINE_DIR } from './image.ts';
import { writeAnsibleInventory, writeOurInventory } from './inventories.ts';
import { pidAlive } from '../../../src/pid.ts';

// No reaper container (it would have to be pulled from a registry); the fleet removes its own
// containers, and a later fleet removes those of a run that died.
process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
const { GenericContainer, Wait } = await import('testcontainers');
type Started = Awaited<ReturnType<InstanceType<typeof GenericContainer>['start']>>;

/** RAMster's limit: a cluster has at most 8 nodes. */
export const CLUSTER_SIZE = 8;
const LABEL = 'ramster-provision.bench.pid';

export interface FleetHost {
  /** Inventory name, also the container's hostname: c<cluster>n<node>. */
  name: string;
  cluster: number;
  number: number;
  /** SSH endpoint on this machine (published on 127.0.0.1 only). */
  port: number;
  /** SSH address, when not 127.0.0.1 (lightweight hosts: one loopback address each). */
  address?: string;
  /** The container's address on the Docker bridge (ramster.conf ip_address). */
  clusterAddress: string;
  containerId: string;
}

export interface Fleet {
  hosts: FleetHost[];
  dir: string;
  /** Private key authorized for root on every host. */
  identity: string;
  /** Every host's own ed25519 key as `[127.0.0.1]:port`. */
  knownHostsFile: string;
  /** Inventory for ramster-provision (clusters of 8, backend legacy, topology symmetric). */
  inventory: string;
  /** The same hosts and cluster data for ansible-playbook. */
  ansibleInventory: string;
  /** Puts every host back to its image state: removes `paths`, restores rc.local and fstab. */
  reset(paths: string[]): Promise<void>;
  /** Kills a host's container (sshd and every session: a host going down). */
  kill(name: string): Promise<void>;
  /** Runs a shell command in a host's container (not over SSH). */
  execIn(name: string, script: string): Promise<{ exitCode: number; output: string }>;
  stop(): Promise<void>;
}

/** A container running sshd, its port published on 127.0.0.1 only, with an init as PID 1
 *  (reaps what sessions leave behind). testcontainers has no host-IP option for ports. */
class SshHostContainer extends GenericContainer {
  constructor(image: string) {
    super(image);
    this.createOpts.ExposedPorts = { '22/tcp': {} };
    this.hostConfig.PortBindings = { '22/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] };
    this.hostConfig.Init = true;
    this.exposedPorts = [22];
  }
}

function keygen(file: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'rp-bench', '-f', file], { stdio: 'ignore' });
}

/** Whether fleet containers of another live process exist. */
async function othersRunning(): Promise<boolean> {
  const r = await execa('docker', ['ps', '--filter', `label=${LABEL}`, '--format', `{{.Label "${LABEL}"}}`], {
    reject: false,
  });
  return r.stdout.split('\n').some((pid) => pid && Number(pid) !== process.pid && pidAlive(Number(pid)));
}

/** Removes fleet containers left by runs whose process is gone (a crash, a ^C). */
async function removeOrphans(log: (l: string) => void): Promise<void> {
  const r = await execa(
    'docker',
    ['ps', '-a', '--filter', `label=${LABEL}`, '--format', `{{.ID}} {{.Label "${LABEL}"}}`],
    {
      reject: false,
    },
  );
  const dead = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' '))
    .filter(([, pid]) => !pidAlive(Number(pid)))
    .map(([id]) => id);
  if (!dead.length) return;
  log(`removing ${dead.length} fleet container(s) of an earlier run that is gone`);
  await execa('docker', ['rm', '-f', ...dead], { reject: false });
}

export interface StartFleetOptions {
  hosts: number;
  log?: (line: string) => void;
  /** Containers started at once. */
  parallel?: number;
}

/** Starts `hosts` Debian containers with sshd (own host key each), grouped in clusters of 8. */
export async function startFleet(opts: StartFleetOptions): Promise<Fleet> {
  const log = opts.log ?? (() => undefined);
  const daemon: DockerDaemon = await ensureDocker(log);
  const image = await ensureFleetImage(log);
  await removeOrphans(log);

  const dir = mkdtempSync(join(tmpdir(), 'rp-fleet-'));
  const identity = join(dir, 'id_ed25519');
  keygen(identity);
  const authorized = readFileSync(`${identity}.pub`);

  const containers = new Map<string, Started>();
  const hosts: FleetHost[] = [];
  const started = Date.now();
  const limit = pLimit(opts.parallel ?? 8);
  const stopAll = async () => {
    await Promise.all([...containers.values()].map((c) => limit(() => c.stop({ timeout: 1 }).catch(() => undefined))));
    containers.clear();
  };
  try {
    await Promise.all(
      Array.from({ length: opts.hosts }, (_, i) =>
        limit(async () => {
          const cluster = Math.floor(i / CLUSTER_SIZE);
          const number = i % CLUSTER_SIZE;
          const name = `c${cluster}n${number}`;
          const key = join(dir, `host_${name}`);
          keygen(key);
          const c = await new SshHostContainer(image)
            .withName(`rp-bench-${process.pid}-${name}`)
            .withHostname(name)
            .withLabels({ [LABEL]: String(process.pid) })
            .withCopyContentToContainer([
              { content: readFileSync(key), target: '/etc/ssh/ssh_host_ed25519_key', mode: 0o600 },
              { content: readFileSync(`${key}.pub`), target: '/etc/ssh/ssh_host_ed25519_key.pub', mode: 0o644 },
              { content: authorized, target: '/root/.ssh/authorized_keys', mode: 0o600 },
            ])
            .withWaitStrategy(Wait.forLogMessage(/Server listening on 0\.0\.0\.0 port 22/))
            .withStartupTimeout(60_000)
            .start();
          containers.set(name, c);
          hosts[i] = {
            name,
            cluster,
            number,
            port: c.getMappedPort(22),
            clusterAddress: c.getIpAddress('bridge'),
            containerId: c.getId(),
          };
        }),
      ),
    );
  } catch (e) {
    await stopAll();
    if (!(await othersRunning())) await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  log(`${opts.hosts} hosts up in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const knownHostsFile = join(dir, 'known_hosts');
  writeFileSync(
    knownHostsFile,
    hosts
      .map(
        (h) =>
          `[127.0.0.1]:${h.port} ${readFileSync(join(dir, `host_${h.name}.pub`), 'utf8')
            .trim()
            .split(/\s+/)
            .slice(0, 2)
            .join(' ')}\n`,
      )
      .join(''),
    { mode: 0o600 },
  );
  const fleet: Fleet = {
    hosts,
    dir,
    identity,
    knownHostsFile,
    inventory: writeOurInventory(dir, hosts, { identity, knownHostsFile }),
    ansibleInventory: writeAnsibleInventory(dir, hosts, { identity }),
    async reset(paths) {
      const script = [
        `rm -rf ${paths.map((p) => `'${p}'`).join(' ')} /var/lib/ramster-provision`,
        `cp -p ${PRISTINE_DIR}/rc.local ${PRISTINE_DIR}/fstab /etc/`,
      ].join(' && ');
      await Promise.all(
        hosts.map((h) =>
          limit(async () => {
            const r = await containers.get(h.name)?.exec(['sh', '-c', script]);
            if (r && r.exitCode !== 0) throw new Error(`reset of ${h.name} failed: ${r.output}`);
          }),
        ),
      );
    },
    async kill(name) {
      await execa('docker', ['kill', containers.get(name)!.getId()]);
    },
    async execIn(name, script) {
      const r = await containers.get(name)!.exec(['sh', '-c', script]);
      return { exitCode: r.exitCode, output: r.output };
    },
    async stop() {
      await stopAll();
      // A dockerd this fleet started stays up while another run's fleet still uses it.
      if (!(await othersRunning())) await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fleet;
}
