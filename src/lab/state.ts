import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../inventory/types.ts';
import type { Distro } from '../guestimage/recipe.ts';
import type { LabKernel } from './kernel.ts';
import { LabError } from './errors.ts';
import type { SshTarget } from './ssh.ts';

export type Accel = 'tcg' | 'kvm';

/** One guest of the lab, as recorded in `<labdir>/state.json`. */
export interface GuestState {
  /** Inventory name: node1, node2, … */
  name: string;
  /** The guest's hostname: system1, system2, … */
  hostname: string;
  /** RAMster node number (0-based). */
  number: number;
  /** Static address on the private cluster link (exists only inside the guests). */
  clusterAddress: string;
  clusterMac: string;
  /** Host port forwarded to the guest's sshd on 127.0.0.1. */
  sshPort: number;
  dir: string;
  disk: string;
  qmpSocket: string;
  pidFile: string;
  supervisorPidFile: string;
  consoleLog: string;
  /** `ssh-ed25519 AAAA…` of the guest's host key. */
  hostPublicKey: string;
  /** This guest's memory when it differs from the lab's `memoryMb`. */
  memoryMb?: number;
  /** Full QEMU argument list; restarts (and `-loadvm`) need exactly the same devices. */
  qemuArgs: string[];
}

export interface LabState {
  version: 1;
  dir: string;
  image: { path: string; hash: string };
  identity: string;
  knownHosts: string;
  inventory: string;
  backend: Backend;
  /** Absent in labs written before the RAMster kernel variant: Debian's kernel. */
  kernel?: LabKernel;
  /** The kernel stage's variables written into the inventory (the RAMster kernel kit). */
  kernelVars?: Record<string, unknown>;
  /** The guests' Debian release; absent in labs written before it could be chosen: bookworm. */
  distro?: Distro;
  memoryMb: number;
  accel: Accel;
  /** How the guests' second NICs are joined: a UDP pair (2 guests) or loopback multicast. */
  network: { kind: 'udp-pair' | 'mcast'; ports: number[] };
  guests: GuestState[];
}

export function statePath(dir: string): string {
  return join(dir, 'state.json');
}

export function readState(dir: string): LabState {
  const file = statePath(dir);
  if (!existsSync(file))
    throw new LabError(`no lab in ${dir} (no state.json)`, 'start one with `ramster-provision lab up`');
  return JSON.parse(readFileSync(file, 'utf8')) as LabState;
}

export function writeState(state: LabState): void {
  const file = statePath(state.dir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function guestOf(state: LabState, name: string): GuestState {
  const g = state.guests.find((x) => x.name === name || x.hostname === name);
  if (!g)
    throw new LabError(
      `no guest ${name} in the lab at ${state.dir}`,
      `guests: ${state.guests.map((x) => x.name).join(', ')}`,
    );
  return g;
}

export function sshTarget(state: LabState, guest: GuestState): SshTarget {
  return { name: guest.name, port: guest.sshPort, identity: state.identity, knownHosts: state.knownHosts };
}
