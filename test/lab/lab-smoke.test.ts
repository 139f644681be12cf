/** `lab up` end to end: two real QEMU guests booted through GRUB from the cached image. */
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { parse } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.ts';
import {
  guestOf,
  labDown,
  labStatus,
  labUp,
  qemuRunning,
  rebootGuest,
  sshRun,
  sshTarget,
} from '../../src/lab/index.ts';
import { downTestLab, labLog, labProcesses, onGuest, recordTimings, upTestLab, type TestLab } from './helpers.ts';
import { labLimit } from '../helpers/machine.ts';

/** The key the guest's sshd really presents (read over the network, not from our files). */
async function scannedHostKey(port: number): Promise<string> {
  const r = await execa('ssh-keyscan', ['-t', 'ed25519', '-p', String(port), '127.0.0.1'], {
    reject: false,
    timeout: labLimit(30_000),
  });
  const line = String(r.stdout)
    .split('\n')
    .find((l) => l.includes('ssh-ed25519'));
  expect(line, `ssh-keyscan on port ${port}: ${r.stderr}`).toBeTruthy();
  return line!.split(' ').slice(1, 3).join(' ');
}

describe('ramster-provision lab with two guests', () => {
  let lab: TestLab;
  const timings: Record<string, number | undefined> = {};

  beforeAll(async () => {
    lab = await upTestLab('smoke');
    timings.imageBuildCold = lab.imageBuildMs;
    timings.labUpCachedImage = lab.upMs;
  });

  let failed = false;
  afterEach(({ task }) => {
    if (task.result?.state === 'fail') failed = true;
  });

  afterAll(async () => {
    // Disks and console logs stay for a look after a failure.
    if (lab) await downTestLab(lab.dir, { remove: !failed });
    recordTimings('lab-smoke', timings);
  });

  it("writes an inventory, known_hosts with the guests' real host keys, and its state", async () => {
    const { state } = lab;
    const inv = parse(readFileSync(state.inventory, 'utf8'));
    expect(inv.all.vars).toEqual({ user: 'root', identity: state.identity, known_hosts: state.knownHosts });
    expect(inv.all.children.lab.ramster).toMatchObject({
      cluster: 'ramster',
      port: 7777,
      backend: 'legacy',
      topology: 'one-way',
    });
    expect(inv.all.children.lab.hosts).toEqual({
      node1: {
        address: '127.0.0.1',
        port: state.guests[0].sshPort,
        number: 0,
        hostname: 'system1',
        cluster_address: '10.99.0.11',
      },
      node2: {
        address: '127.0.0.1',
        port: state.guests[1].sshPort,
        number: 1,
        hostname: 'system2',
        cluster_address: '10.99.0.12',
      },
    });
    const known = readFileSync(state.knownHosts, 'utf8').trim().split('\n');
    expect(known).toHaveLength(2);
    for (const g of state.guests) {
      const real = await scannedHostKey(g.sshPort);
      expect(known).toContain(`[127.0.0.1]:${g.sshPort} ${real}`);
    }
    expect(state.guests[0].hostPublicKey).not.toBe(state.guests[1].hostPublicKey);
    // The inventory loader accepts it as a cluster of two nodes.
    const loaded = await loadInventory(state.inventory);
    expect(loaded.clusters[0].nodes.map((n) => [n.host, n.hostname, n.number, n.clusterAddress])).toEqual([
      ['node1', 'system1', 0, '10.99.0.11'],
      ['node2', 'system2', 1, '10.99.0.12'],
    ]);
    expect(JSON.parse(readFileSync(`${lab.dir}/state.json`, 'utf8')).guests).toHaveLength(2);
  });

  it('reaches both guests over SSH with strict host key checking, with distinct hostnames', async () => {
    expect((await onGuest(lab.state, 'node1', 'hostname')).trim()).toBe('system1');
    expect((await onGuest(lab.state, 'node2', 'hostname')).trim()).toBe('system2');
    // The same guest behind a known_hosts without its key is refused: checking is really on.
    const g = guestOf(lab.state, 'node1');
    const stranger = await sshRun({ ...sshTarget(lab.state, g), knownHosts: '/dev/null' }, 'true', {
      timeoutMs: labLimit(30_000),
    });
    expect(stranger.code).toBe(255);
    expect(stranger.stderr).toMatch(/Host key verification failed/);
  });

  it('joins the guests on a private network with static cluster addresses', async () => {
    expect(await onGuest(lab.state, 'node1', 'ip -4 -br addr')).toMatch(/\b10\.99\.0\.11\/24\b/);
    expect(await onGuest(lab.state, 'node1', 'ping -c 3 -W 5 10.99.0.12')).toMatch(/3 received/);
    expect(await onGuest(lab.state, 'node2', 'ping -c 3 -W 5 system1')).toMatch(/3 received/);
  });

  it('loads ocfs2_nodemanager and exposes the configfs cluster ABI', async () => {
    const out = await onGuest(
      lab.state,
      'node1',
      `modprobe ocfs2_nodemanager
       mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
       test -d /sys/kernel/config/cluster
       mkdir /sys/kernel/config/cluster/labcheck
       ls /sys/kernel/config/cluster/labcheck
       rmdir /sys/kernel/config/cluster/labcheck`,
    );
    expect(out.split('\n')).toEqual(expect.arrayContaining(['heartbeat', 'node']));
  });

  it('answers lab up on a running lab with the same guests', async () => {
    const again = await labUp({
      nodes: 2,
      memoryMb: 1024,
      backend: 'legacy',
      dir: lab.dir,
      installDeps: false,
      log: labLog('smoke-again'),
    });
    expect(again.guests.map((g) => g.sshPort)).toEqual(lab.state.guests.map((g) => g.sshPort));
  });

  it('reboots a guest cold: new boot_id, same host key, private link back', async () => {
    const g = guestOf(lab.state, 'node1');
    const keyBefore = await scannedHostKey(g.sshPort);
    const r = await rebootGuest(lab.state, g);
    timings.reboot = r.ms;
    expect(r.bootIdAfter).not.toBe(r.bootIdBefore);
    expect(await scannedHostKey(g.sshPort)).toBe(keyBefore);
    expect((await onGuest(lab.state, 'node1', 'cat /proc/sys/kernel/random/boot_id')).trim()).toBe(r.bootIdAfter);
    expect(await onGuest(lab.state, 'node2', 'ping -c 3 -W 5 10.99.0.11')).toMatch(/3 received/);
  });

  it('reports status, and lab down leaves no QEMU process', async () => {
    const before = await labStatus(lab.dir);
    expect(before.guests.map((g) => [g.hostname, g.running, g.sshReachable])).toEqual([
      ['system1', true, true],
      ['system2', true, true],
    ]);
    expect(labProcesses(lab.dir).length).toBeGreaterThanOrEqual(2);
    const down = await labDown(lab.dir);
    expect(down.stopped).toEqual(['node1', 'node2']);
    expect(labProcesses(lab.dir)).toEqual([]);
    for (const g of lab.state.guests) expect(qemuRunning(g)).toBe(false);
    const after = await labStatus(lab.dir);
    expect(after.guests.map((g) => g.running)).toEqual([false, false]);
  });
});
