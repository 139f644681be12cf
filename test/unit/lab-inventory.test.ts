import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadInventoryText } from '../../src/inventory/load.ts';
import { labInventory } from '../../src/lab/inventory.ts';
import type { GuestState, LabState } from '../../src/lab/state.ts';

// The inventory `lab up` writes must load for every lab size it accepts (1..8 guests).
const lab = (n: number): LabState => ({
  version: 1,
  dir: '/lab',
  image: { path: '/lab/disk.raw', hash: 'x' },
  identity: '/lab/id',
  knownHosts: '/lab/known_hosts',
  inventory: '/lab/inventory.yaml',
  backend: 'legacy',
  memoryMb: 1024,
  accel: 'tcg',
  network: { kind: 'mcast', ports: [] },
  guests: Array.from({ length: n }, (_, i): GuestState => ({
    name: `node${i + 1}`,
    hostname: `system${i + 1}`,
    number: i,
    clusterAddress: `10.99.0.${11 + i}`,
    clusterMac: '',
    sshPort: 40000 + i,
    dir: '',
    disk: '',
    qmpSocket: '',
    pidFile: '',
    supervisorPidFile: '',
    consoleLog: '',
    hostPublicKey: '',
    qemuArgs: [],
  })),
});

describe('lab inventory', () => {
  it.each([1, 2, 3, 8])('loads without errors for %i guest(s); one-way only with two or more', (n) => {
    const inv = loadInventoryText('inventory.yaml', stringify(labInventory(lab(n))));
    expect(inv.clusters).toHaveLength(1);
    expect(inv.clusters[0].nodes).toHaveLength(n);
    expect(inv.clusters[0].topology).toBe(n > 1 ? 'one-way' : undefined);
  });
});
