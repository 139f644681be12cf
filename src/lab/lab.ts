import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Backend } from '../inventory/types.ts';
import { runCommand } from '../guestimage/command.ts';
import { LabError } from './errors.ts';
import { qemuRunning, startGuest, stopGuest, supervisorRunning } from './guest.ts';
import { ensureImage, type ImageKind } from '../guestimage/image.ts';
import { findRamsterKernelKit, ramsterKernelVars, type LabKernel } from './kernel.ts';
import { writeKnownHosts, writeLabInventory } from './inventory.ts';
import { ensureKeyPair } from '../guestimage/keys.ts';
import { labCacheDir } from '../guestimage/paths.ts';
import { freePorts } from './ports.ts';
import { checkPrerequisites, KERNEL_BUILD_TOOLS, LAB_TOOLS } from '../guestimage/prereqs.ts';
import { seconds, timed, type LabLog, type LabProgress } from '../guestimage/progress.ts';
import { type Distro, FW_CFG_NAME, NIC0_MAC } from '../guestimage/recipe.ts';
import { readBootId, waitForSsh } from './ssh.ts';
import { readState, sshTarget, statePath, writeState, type Accel, type GuestState, type LabState } from './state.ts';
import { commandFailed } from '../shell.ts';

export interface LabUpOptions {
  nodes: number;
  memoryMb: number;
  backend: Backend;
  /** `ramster`: a sysvinit image whose inventory builds and boots the RAMster kernel (3.10). */
  kernel?: LabKernel;
  /** The guests' Debian release: bookworm (12, the default) or trixie (13). */
  distro?: Distro;
  /** Lab directory (guest overlays, inventory.yaml, known_hosts, state.json). */
  dir: string;
  installDeps: boolean;
  log: LabLog;
  progress?: LabProgress;
  /** Recreate every guest's disk and host key even when they exist. */
  fresh?: boolean;
  /** TCG unless asked: /dev/kvm on these machines starts guests that then hang (lab.md). */
  accel?: Accel;
  cacheDir?: string;
  sshTimeoutMs?: number;
  /** How the cluster NICs are joined; default: a UDP pair for 2 guests, multicast otherwise. */
  network?: LabState['network']['kind'];
  /** Per guest (in order), MiB that replace `memoryMb`, e.g. a small borrower next to its lender. */
  guestMemoryMb?: (number | undefined)[];
}

const MAX_NODES = 8;
const clusterAddress = (i: number) => `10.99.0.${10 + i}`;
const clusterMac = (i: number) => `52:54:00:99:00:${i.toString(16).padStart(2, '0')}`;

/** The image a lab boots: sysvinit for the RAMster kernel (Debian 12 only), else systemd. */
export function labImageKind(opts: Pick<LabUpOptions, 'kernel' | 'distro'>): ImageKind {
  const distro = opts.distro ?? 'bookworm';
  if (opts.kernel === 'ramster' && distro !== 'bookworm')
    throw new LabError(
      `--kernel ramster runs on a Debian 12 (bookworm) image, not ${distro}`,
      "drop --distro (RAMster's Linux 3.10 boots the sysvinit image of Debian 12), or --kernel",
    );
  return { flavour: opts.kernel === 'ramster' ? 'sysvinit' : 'systemd', distro };
}

/** Boots a RAMster-ready cluster of QEMU guests and writes its inventory; an already running
 *  lab with the same shape is returned as it is. */
export async function labUp(opts: LabUpOptions): Promise<LabState> {
  const r = { log: opts.log, progress: opts.progress };
  checkUpOptions(opts);
  const dir = resolve(opts.dir);
  const accel = opts.accel ?? (process.env.RAMSTER_LAB_ACCEL === 'kvm' ? 'kvm' : 'tcg');
  const kernel = opts.kernel ?? 'debian';
  if (kernel === 'ramster' && opts.backend !== 'legacy')
    throw new LabError('--kernel ramster is for the legacy backend', 'drop --backend modern, or --kernel');
  const imageKind = labImageKind(opts);

  const running = runningLab(dir);
  if (running) return reuseRunning(running, dir, opts, kernel, imageKind.distro, r);

  await checkPrerequisites(
    opts.installDeps,
    r.log,
    kernel === 'ramster' ? [...LAB_TOOLS, ...KERNEL_BUILD_TOOLS] : LAB_TOOLS,
  );
  const kernelVars = kernel === 'ramster' ? ramsterKernelVars(await findRamsterKernelKit()) : undefined;
  const image = await ensureImage(opts.cacheDir ?? labCacheDir(), r, imageKind);
  mkdirSync(dir, { recursive: true });

  const sshPorts = await freePorts(opts.nodes, 'tcp');
  const network = await labNetwork(opts);
  const state: LabState = {
    version: 1,
    dir,
    image: { path: image.path, hash: image.hash },
    identity: image.key.path,
    knownHosts: join(dir, 'known_hosts'),
    inventory: join(dir, 'inventory.yaml'),
    backend: opts.backend,
    ...(kernel === 'ramster' ? { kernel, kernelVars } : {}),
    ...(imageKind.distro !== 'bookworm' ? { distro: imageKind.distro } : {}),
    memoryMb: opts.memoryMb,
    accel,
    network,
    guests: [],
  };
  for (let i = 1; i <= opts.nodes; i++) {
    state.guests.push(await prepareGuest(state, i, sshPorts[i - 1], !!opts.fresh, opts.guestMemoryMb?.[i - 1]));
  }
  for (const g of state.guests) writeGuestConfig(state, g);
  writeKnownHosts(state);
  writeLabInventory(state);
  writeState(state);

  await startGuests(state, opts, r);
  r.log(`lab ready: inventory ${state.inventory}`);
  return state;
}

function checkUpOptions(opts: LabUpOptions): void {
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > MAX_NODES) {
    throw new LabError(`--nodes must be 1..${MAX_NODES} (a RAMster cluster has at most 8 nodes), got ${opts.nodes}`);
  }
  if (!Number.isInteger(opts.memoryMb) || opts.memoryMb < 256)
    throw new LabError(`--memory must be at least 256 (MiB), got ${opts.memoryMb}`);
}

/** The lab running in the directory, when it has the shape asked for (and no fresh one was). */
async function reuseRunning(
  running: LabState,
  dir: string,
  opts: LabUpOptions,
  kernel: string,
  distro: string,
  r: { log: LabLog; progress?: LabProgress },
): Promise<LabState> {
  const sameShape =
    running.guests.length === opts.nodes &&
    running.memoryMb === opts.memoryMb &&
    running.backend === opts.backend &&
    (running.kernel ?? 'debian') === kernel &&
    (running.distro ?? 'bookworm') === distro;
  if (sameShape && !opts.fresh) {
    r.log(`lab in ${dir} is already running`);
    await waitAllSsh(running, r, opts.sshTimeoutMs);
    return running;
  }
  throw new LabError(
    `a lab with a different shape is running in ${dir}`,
    'stop it first with `ramster-provision lab down`',
  );
}

/** The guests' cluster network: a UDP pair for 2 guests, else multicast, on free ports. */
async function labNetwork(opts: LabUpOptions): Promise<LabState['network']> {
  const netKind = opts.network ?? (opts.nodes === 2 ? 'udp-pair' : 'mcast');
  if (netKind === 'udp-pair' && opts.nodes !== 2)
    throw new LabError('a UDP pair joins exactly 2 guests', 'use the multicast network for other sizes');
  return netKind === 'udp-pair'
    ? { kind: 'udp-pair', ports: await freePorts(2, 'udp') }
    : { kind: 'mcast', ports: await freePorts(1, 'udp') };
}

/** Starts the guests and waits for their SSH; stops them all when one fails. */
async function startGuests(
  state: LabState,
  opts: LabUpOptions,
  r: { log: LabLog; progress?: LabProgress },
): Promise<void> {
  const memories = state.guests.map((g) => g.memoryMb ?? opts.memoryMb);
  const memory = memories.every((m) => m === opts.memoryMb) ? `${opts.memoryMb} MiB each` : `${memories.join('/')} MiB`;
  try {
    await timed(
      r,
      `start ${opts.nodes} QEMU guest${opts.nodes > 1 ? 's' : ''} (${state.accel}, ${memory})`,
      async () => {
        for (const g of state.guests) await startGuest(state, g);
      },
    );
    await waitAllSsh(state, r, opts.sshTimeoutMs);
  } catch (e) {
    r.log('lab up failed: stopping the guests it started');
    for (const g of state.guests) await stopGuest(g);
    throw e;
  }
}

async function waitAllSsh(
  state: LabState,
  r: { log: LabLog; progress?: LabProgress },
  timeoutMs = 900_000,
): Promise<void> {
  await timed(
    r,
    `wait for SSH on ${state.guests.map((g) => `${g.hostname} (127.0.0.1:${g.sshPort})`).join(', ')}`,
    (update) =>
      Promise.all(
        state.guests.map(async (g) => {
          const start = Date.now();
          await waitForSsh(sshTarget(state, g), { timeoutMs, isAlive: () => supervisorRunning(g) });
          const line = `${g.hostname}: SSH answers after ${seconds(Date.now() - start)}`;
          r.log(line);
          update(line);
        }),
      ),
  );
}

/** Creates (or reuses) a guest's overlay disk and host key, and lays out its files. */
async function prepareGuest(
  state: LabState,
  i: number,
  sshPort: number,
  fresh: boolean,
  memoryMb?: number,
): Promise<GuestState> {
  const name = `node${i}`;
  const gdir = join(state.dir, name);
  const disk = join(gdir, 'disk.qcow2');
  const imageStamp = join(gdir, 'image-hash');
  const reusable =
    !fresh &&
    existsSync(disk) &&
    existsSync(imageStamp) &&
    readFileSync(imageStamp, 'utf8').trim() === state.image.hash;
  if (!reusable) {
    rmSync(gdir, { recursive: true, force: true });
    mkdirSync(gdir, { recursive: true });
    await runCommand(
      'qemu-img',
      ['create', '-q', '-f', 'qcow2', '-b', state.image.path, '-F', 'raw', disk],
      `qemu-img create ${disk}`,
    );
    writeFileSync(imageStamp, `${state.image.hash}\n`);
  }
  const hostKey = await ensureKeyPair(join(gdir, 'ssh_host_ed25519_key'), `root@system${i}`);
  const g: GuestState = {
    name,
    hostname: `system${i}`,
    number: i - 1,
    clusterAddress: clusterAddress(i),
    clusterMac: clusterMac(i),
    sshPort,
    dir: gdir,
    disk,
    qmpSocket: qmpSocketPath(gdir),
    pidFile: join(gdir, 'qemu.pid'),
    supervisorPidFile: join(gdir, 'supervisor.pid'),
    consoleLog: join(gdir, 'console.log'),
    hostPublicKey: hostKey.publicKey.split(' ').slice(0, 2).join(' '),
    qemuArgs: [],
    ...(memoryMb ? { memoryMb } : {}),
  };
  g.qemuArgs = qemuArgs(state, g, i);
  return g;
}

/** Unix socket paths are limited to 108 bytes; deep lab directories get one under /tmp. */
function qmpSocketPath(gdir: string): string {
  const p = join(gdir, 'qmp.sock');
  if (Buffer.byteLength(p) < 100) return p;
  const short = join(tmpdir(), `ramster-lab-${createHash('sha256').update(gdir).digest('hex').slice(0, 12)}`);
  mkdirSync(short, { recursive: true, mode: 0o700 });
  return join(short, 'qmp.sock');
}

function qemuArgs(state: LabState, g: GuestState, i: number): string[] {
  const net = state.network;
  let cluster: string;
  if (net.kind === 'udp-pair') {
    // Two guests: a connectionless UDP pair, so either side can restart (cold reboot) and the
    // link carries on, unlike listen/connect where the connector loses its peer.
    const [mine, peer] = i === 1 ? [net.ports[0], net.ports[1]] : [net.ports[1], net.ports[0]];
    cluster = `socket,id=p0,udp=127.0.0.1:${peer},localaddr=127.0.0.1:${mine}`;
  } else {
    cluster = `socket,id=p0,mcast=230.0.0.1:${net.ports[0]},localaddr=127.0.0.1`;
  }
  // 3.10's virtio_net with event index: under load its TX queue stopped for good (the guest's
  // TCP kept retrying, QEMU saw no packet: no sendto in strace for minutes, TX counters frozen);
  // without event index every kick and completion is signalled.
  const nic = state.kernel === 'ramster' ? ',event_idx=off' : '';
  return [
    '-name',
    g.hostname,
    '-accel',
    state.accel,
    '-m',
    String(g.memoryMb ?? state.memoryMb),
    '-smp',
    '1',
    '-display',
    'none',
    '-monitor',
    'none',
    '-chardev',
    `file,id=console,path=${g.consoleLog},append=on`,
    '-serial',
    'chardev:console',
    '-qmp',
    `unix:${g.qmpSocket},server=on,wait=off`,
    '-pidfile',
    g.pidFile,
    '-action',
    'reboot=shutdown',
    '-drive',
    `file=${g.disk},if=virtio,format=qcow2,cache=unsafe`,
    '-netdev',
    `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${g.sshPort}-:22`,
    '-device',
    `virtio-net-pci,netdev=n0,mac=${NIC0_MAC}${nic}`,
    '-netdev',
    cluster,
    '-device',
    `virtio-net-pci,netdev=p0,mac=${g.clusterMac}${nic}`,
    '-fw_cfg',
    `name=${FW_CFG_NAME},file=${join(g.dir, 'config.tar')}`,
  ];
}

/** The per-guest files the image's boot unit installs from fw_cfg (see recipe.ts). */
function writeGuestConfig(state: LabState, g: GuestState): void {
  const stage = join(g.dir, 'config');
  rmSync(stage, { recursive: true, force: true });
  const files: Record<string, { text: string; mode: number }> = {
    'etc/hostname': { text: `${g.hostname}\n`, mode: 0o644 },
    'etc/hosts': {
      text:
        `127.0.0.1\tlocalhost\n127.0.1.1\t${g.hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n` +
        state.guests.map((o) => `${o.clusterAddress}\t${o.hostname}\n`).join(''),
      mode: 0o644,
    },
    'etc/ssh/ssh_host_ed25519_key': { text: readFileSync(join(g.dir, 'ssh_host_ed25519_key'), 'utf8'), mode: 0o600 },
    'etc/ssh/ssh_host_ed25519_key.pub': {
      text: readFileSync(join(g.dir, 'ssh_host_ed25519_key.pub'), 'utf8'),
      mode: 0o644,
    },
    ...clusterNicFile(state, g),
  };
  for (const [rel, f] of Object.entries(files)) {
    const p = join(stage, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, f.text, { mode: f.mode });
  }
  // Only file entries: directory entries would reset the guest's /etc owner and mode.
  const tar = spawnSyncChecked(`building ${g.name}'s configuration archive`, 'tar', [
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--mtime=@0',
    '--sort=name',
    '-cf',
    join(g.dir, 'config.tar'),
    '-C',
    stage,
    '--no-recursion',
    ...Object.keys(files),
  ]);
  if (tar) throw new LabError(tar);
  rmSync(stage, { recursive: true, force: true });
}

/** The cluster NIC's address: systemd-networkd matches its MAC; ifupdown (sysvinit image, where
 *  3.10 runs without udev) names it eth1, the second virtio NIC. */
function clusterNicFile(state: LabState, g: GuestState): Record<string, { text: string; mode: number }> {
  if (state.kernel === 'ramster') {
    return {
      'etc/network/interfaces.d/lab-cluster': {
        text: `auto eth1\niface eth1 inet static\n    address ${g.clusterAddress}/24\n`,
        mode: 0o644,
      },
    };
  }
  return {
    'etc/systemd/network/20-lab-cluster.network': {
      text: `[Match]\nMACAddress=${g.clusterMac}\n\n[Network]\nAddress=${g.clusterAddress}/24\nLinkLocalAddressing=no\n`,
      mode: 0o644,
    },
  };
}

/** Undefined when the command exits 0, else why it failed. */
function spawnSyncChecked(what: string, cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0
    ? undefined
    : commandFailed(
        what,
        { code: r.status, signal: r.signal, stderr: r.stderr || r.error?.message },
        { lines: Infinity },
      );
}

/** The lab's state when at least one of its guests is running. */
function runningLab(dir: string): LabState | undefined {
  if (!existsSync(statePath(dir))) return undefined;
  const state = readState(dir);
  return state.guests.some((g) => qemuRunning(g) || supervisorRunning(g)) ? state : undefined;
}

export interface GuestStatus {
  name: string;
  hostname: string;
  sshPort: number;
  clusterAddress: string;
  running: boolean;
  sshReachable: boolean;
  bootId?: string;
}

export interface LabStatus {
  dir: string;
  exists: boolean;
  inventory?: string;
  guests: GuestStatus[];
}

export async function labStatus(dir: string): Promise<LabStatus> {
  dir = resolve(dir);
  if (!existsSync(statePath(dir))) return { dir, exists: false, guests: [] };
  const state = readState(dir);
  const guests = await Promise.all(
    state.guests.map(async (g): Promise<GuestStatus> => {
      const running = qemuRunning(g);
      const bootId = running ? await readBootId(sshTarget(state, g)) : undefined;
      return {
        name: g.name,
        hostname: g.hostname,
        sshPort: g.sshPort,
        clusterAddress: g.clusterAddress,
        running,
        sshReachable: !!bootId,
        bootId,
      };
    }),
  );
  return { dir, exists: true, inventory: state.inventory, guests };
}

/** Stops every guest of the lab (QMP quit, pid files as fallback); keeps their disks. */
export async function labDown(dir: string, log: LabLog = () => {}): Promise<{ stopped: string[] }> {
  dir = resolve(dir);
  if (!existsSync(statePath(dir))) return { stopped: [] };
  const state = readState(dir);
  const stopped: string[] = [];
  for (const g of state.guests) {
    if (qemuRunning(g) || supervisorRunning(g)) {
      await stopGuest(g);
      stopped.push(g.name);
      log(`${g.hostname}: stopped`);
    }
    if (qemuRunning(g) || supervisorRunning(g))
      throw new LabError(`${g.name}: QEMU is still running after lab down`, `see ${g.pidFile}`);
  }
  return { stopped };
}
