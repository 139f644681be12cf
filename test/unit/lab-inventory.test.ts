import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadInventoryText } from '../../src/inventory/load.ts';
import { labInventory } from '../../src/lab/inventory.ts';
import { findRamsterKernelKit, ramsterKernelVars } from '../../src/lab/kernel.ts';
import { REPO_ROOT } from '../../src/guestimage/paths.ts';
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
  guests: Array.from(
    { length: n },
    (_, i): GuestState => ({
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
    }),
  ),
});

describe('lab inventory', () => {
  it.each([1, 2, 3, 8])('loads without errors for %i guest(s); one-way only with two or more', (n) => {
    const inv = loadInventoryText('inventory.yaml', stringify(labInventory(lab(n))));
    expect(inv.clusters).toHaveLength(1);
    expect(inv.clusters[0].nodes).toHaveLength(n);
    expect(inv.clusters[0].topology).toBe(n > 1 ? 'one-way' : undefined);
  });
});

describe('lab inventory for the RAMster kernel (--kernel ramster)', () => {
  it('names the kit as the kernel stage variables; the playbook-relative patches exist', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rp-kit-'));
    for (const f of ['linux-3.10.72-ramster.tar.xz', 'linux-3.10.72-x86-gcc12.patch', 'config-3.10.72'])
      writeFileSync(join(dir, f), f);
    process.env.RAMSTER_KERNEL_DIR = dir;
    try {
      const kit = await findRamsterKernelKit();
      expect(kit.tarball).toBe(join(dir, 'linux-3.10.72-ramster.tar.xz'));
      const vars = ramsterKernelVars(kit);
      const inv = loadInventoryText(
        'inventory.yaml',
        stringify(labInventory({ ...lab(2), kernel: 'ramster', kernelVars: vars })),
      );
      expect(inv.clusters[0].nodes).toHaveLength(2);
      const patches = vars.kernel_patches as string[];
      expect(patches[0]).toBe(kit.patch);
      for (const p of patches.slice(1)) expect(existsSync(join(REPO_ROOT, 'playbooks', p)), p).toBe(true);
      for (const f of vars.kernel_config_extra as string[])
        expect(existsSync(join(REPO_ROOT, 'playbooks', f)), f).toBe(true);
      expect(vars).toMatchObject({
        kernel_source: { tarball: kit.tarball },
        kernel_config_base: kit.config,
        kernel_build_host: 'control',
      });
    } finally {
      delete process.env.RAMSTER_KERNEL_DIR;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a kit whose file does not match its SHA256SUMS, naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rp-kit-'));
    for (const f of ['linux-3.10.72-ramster.tar.xz', 'linux-3.10.72-x86-gcc12.patch', 'config-3.10.72'])
      writeFileSync(join(dir, f), f);
    writeFileSync(join(dir, 'SHA256SUMS'), `${'0'.repeat(64)}  linux-3.10.72-x86-gcc12.patch\n`);
    process.env.RAMSTER_KERNEL_DIR = dir;
    try {
      await expect(findRamsterKernelKit()).rejects.toThrow(
        /linux-3\.10\.72-x86-gcc12\.patch does not match .*SHA256SUMS/,
      );
    } finally {
      delete process.env.RAMSTER_KERNEL_DIR;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
