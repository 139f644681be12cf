import { renameSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import type { LabState } from './state.ts';

/** RAMster cluster settings of the lab's inventory (the HOW-TO's values). */
export const LAB_CLUSTER = {
  cluster: 'ramster',
  port: 7777,
  heartbeat_dead_threshold: 500,
  idle_timeout_ms: 1_000_000,
  topology: 'one-way',
};

/** The inventory document for the lab (format of playbooks/inventory.example.yaml). */
export function labInventory(state: LabState): Record<string, unknown> {
  const hosts: Record<string, unknown> = {};
  for (const g of state.guests) {
    hosts[g.name] = {
      address: '127.0.0.1',
      port: g.sshPort,
      number: g.number,
      hostname: g.hostname,
      cluster_address: g.clusterAddress,
    };
  }
  const { topology, ...rest } = LAB_CLUSTER;
  return {
    all: {
      vars: { user: 'root', identity: state.identity, known_hosts: state.knownHosts, ...(state.kernelVars ?? {}) },
      children: {
        lab: {
          // A single node borrows from nobody: a topology needs at least two nodes.
          ramster: {
            ...rest,
            backend: state.backend,
            ...(state.guests.length > 1 ? { topology } : {}),
            // Debian 12's kernel (6.1) has no NVMe in-band authentication: its modern lab says so
            ...(state.backend === 'modern' && (state.distro ?? 'bookworm') === 'bookworm' ? { auth: 'none' } : {}),
          },
          hosts,
        },
      },
    },
  };
}

function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

export function writeLabInventory(state: LabState): void {
  const header = `# Written by \`ramster-provision lab up\` for the guests in ${state.dir}; rewritten on every lab up.\n`;
  writeAtomic(state.inventory, header + stringify(labInventory(state)));
}

/** known_hosts with each guest's real host key at its forwarded port. */
export function writeKnownHosts(state: LabState): void {
  writeAtomic(state.knownHosts, state.guests.map((g) => `[127.0.0.1]:${g.sshPort} ${g.hostPublicKey}\n`).join(''));
}
