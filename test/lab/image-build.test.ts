/**
 * CI image builds end to end: `image build` bakes node1 of a two-node inventory into a qcow2
 * (mmdebstrap rootfs, playbooks/site.yaml through the chroot transport, grub.cfg for the
 * disk), the image boots under QEMU (TCG) through its own GRUB with the baked boot parameters,
 * SSH is verified against the known_hosts line the build wrote, and `apply` over SSH finds
 * every step the build applied already done. A build whose playbook fails leaves nothing.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult, StepResult } from '../../src/engine/result.ts';
import type { DeferredStep, ImageInfo } from '../../src/image/index.ts';
import { mountsUnder } from '../../src/image/index.ts';
import {
  labCacheDir,
  sshCheck,
  sshRun,
  startGuest,
  stopGuest,
  supervisorRunning,
  waitForSsh,
  type GuestState,
  type LabState,
  type SshTarget,
} from '../../src/lab/index.ts';
import { ensureLabKey } from '../../src/guestimage/keys.ts';
import { freePorts } from '../../src/lab/ports.ts';
import { NIC0_MAC } from '../../src/guestimage/recipe.ts';
import { cli, explain, hostOf, parseRun, type CliRun } from './cli.ts';
import { labTestDir } from './helpers.ts';
import { CaseTimings } from './timing.ts';
import { labLimit } from '../helpers/machine.ts';

type BuildJson = RunResult & { image?: ImageInfo; error?: string };

const stepKey = (s: StepResult) => `${s.play} / ${s.handler ? 'handler ' : ''}${s.step}`;

function parseBuild(r: CliRun): BuildJson {
  return parseRun(r) as BuildJson;
}

/** Image-build work directories (one per build process) in the lab cache. */
function workDirs(cache: string): string[] {
  const dir = join(cache, 'image-builds');
  return existsSync(dir) ? readdirSync(dir) : [];
}

describe('image build: node1 of a two-node inventory as a bootable qcow2', () => {
  const timings = new CaseTimings('image-build');
  const cache = labCacheDir();
  let dir = '';
  let inventory = '';
  let output = '';
  let knownHosts = '';
  let identity = '';
  let sshPort = 0;
  let build: BuildJson | undefined;
  let guest: GuestState | undefined;
  let target: SshTarget | undefined;

  beforeAll(async () => {
    dir = labTestDir('image-build');
    identity = (await ensureLabKey(cache)).path;
    [sshPort] = await freePorts(1, 'tcp');
    // The lab's inventory shape; node2 is never booted (it only shapes the cluster files).
    inventory = join(dir, 'inventory.yaml');
    writeFileSync(
      inventory,
      stringify({
        all: {
          vars: { user: 'root', identity },
          children: {
            lab: {
              ramster: {
                cluster: 'ramster',
                port: 7777,
                heartbeat_dead_threshold: 500,
                idle_timeout_ms: 1_000_000,
                backend: 'legacy',
                topology: 'one-way',
              },
              hosts: {
                node1: {
                  address: '127.0.0.1',
                  port: sshPort,
                  number: 0,
                  hostname: 'system1',
                  cluster_address: '10.99.0.11',
                },
                node2: {
                  address: '127.0.0.1',
                  port: 22,
                  number: 1,
                  hostname: 'system2',
                  cluster_address: '10.99.0.12',
                },
              },
            },
          },
        },
      }),
    );
    output = join(dir, 'node1.qcow2');
    knownHosts = join(dir, 'node1.known_hosts');
  });

  let failed = false;
  afterEach(({ task }) => {
    if (task.result?.state === 'fail') failed = true;
  });

  afterAll(async () => {
    if (guest) await stopGuest(guest);
    timings.record();
    if (!failed && dir) await execa('rm', ['-rf', dir]);
  });

  it(
    'builds the image: exit 0, qcow2 and known_hosts written, site steps applied in the chroot, kernel steps deferred and listed',
    timings.timed('build', async () => {
      const before = workDirs(cache);
      const r = await cli(
        ['image', 'build', '-i', inventory, '--host', 'node1', '-o', output, '--json'],
        labLimit(1_800_000),
      );
      build = parseBuild(r);
      console.log(
        `[image-build] build parts (s): ${JSON.stringify(build.image?.timings)}; base ${build.image?.baseBuilt ? 'built by mmdebstrap' : 'from the cache'}`,
      );
      timings.set('build.cli', r.ms);
      timings.set('build.base', (build.image?.timings.base ?? 0) * 1000);
      expect(r.code, explain({ ...r, result: build })).toBe(0);
      const img = build.image!;
      expect(img).toMatchObject({
        host: 'node1',
        hostname: 'system1',
        format: 'qcow2',
        clusterAddress: '10.99.0.11',
        output,
        knownHosts,
      });

      // The files: a real qcow2, the known_hosts line with the inventory's endpoint, nothing else.
      const info = JSON.parse((await execa('qemu-img', ['info', '--output=json', output])).stdout);
      expect(info.format).toBe('qcow2');
      expect(info['virtual-size']).toBe(3072 * 2 ** 20);
      expect(readFileSync(knownHosts, 'utf8')).toBe(`[127.0.0.1]:${sshPort},system1 ${img.hostPublicKey}\n`);
      expect(img.hostPublicKey).toMatch(/^ssh-ed25519 \S+$/);
      expect(readdirSync(dir).sort()).toEqual(['inventory.yaml', 'node1.known_hosts', 'node1.qcow2']);
      expect(workDirs(cache)).toEqual(before);
      expect(mountsUnder(join(cache, 'image-builds'))).toEqual([]);

      // The run through the chroot: the site steps for a systemd Debian, nothing failed.
      const h = hostOf(build, 'node1');
      expect(h.target).toMatch(/^chroot:/);
      expect(h.facts).toMatchObject({ os_family: 'debian', init_system: 'systemd', boot_loader: 'grub2' });
      expect(
        h.steps.filter((s) => s.status === 'failed'),
        explain({ ...r, result: build }),
      ).toEqual([]);
      const changed = h.steps.filter((s) => s.status === 'changed').map((s) => s.type);
      expect(changed).toEqual(
        expect.arrayContaining([
          'grub_cmdline',
          'file',
          'service',
          'ramster_conf',
          'ramster_defaults',
          'ramster_rclocal',
        ]),
      );
      expect(h.steps.find((s) => s.type === 'grub_cmdline')?.change?.diff).toMatch(
        /^\+GRUB_CMDLINE_LINUX=".*\bzcache ramster\b.*"$/m,
      );
      expect(img.kernelCmdline).toEqual(expect.arrayContaining(['zcache', 'ramster']));

      // Deferred and listed: the live steps and the cluster reboot (ramster_reboot: false).
      const deferred = (when: DeferredStep['when']) => img.deferred.filter((d) => d.when === when).map((d) => d.type);
      expect(deferred('deferred').sort()).toEqual(['ramster_bringup', 'ramster_verify', 'reboot']);
      expect(deferred('at-boot')).toEqual(expect.arrayContaining(['grub_cmdline', 'service']));
      const reboot = h.steps.find((s) => s.type === 'reboot');
      expect(reboot).toMatchObject({ handler: true, status: 'skipped' });
      expect(reboot?.message).toMatch(/ramster_reboot/);
    }),
  );

  it(
    'boots through its own GRUB under QEMU (TCG); SSH verified by the written known_hosts line; hostname, boot parameters, cluster address baked in',
    timings.timed('boot', async () => {
      expect(build?.image, 'the build case wrote the image').toBeDefined();
      const gdir = join(dir, 'node1');
      await execa('mkdir', ['-p', gdir]);
      const disk = join(gdir, 'disk.qcow2');
      await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', output, '-F', 'qcow2', disk]);
      const [mine, peer] = await freePorts(2, 'udp');
      const g: GuestState = {
        name: 'node1',
        hostname: 'system1',
        number: 0,
        clusterAddress: '10.99.0.11',
        clusterMac: '52:54:00:99:00:01',
        sshPort,
        dir: gdir,
        disk,
        qmpSocket: join(gdir, 'qmp.sock'),
        pidFile: join(gdir, 'qemu.pid'),
        supervisorPidFile: join(gdir, 'supervisor.pid'),
        consoleLog: join(gdir, 'console.log'),
        hostPublicKey: build!.image!.hostPublicKey,
        qemuArgs: [],
      };
      // The lab's device set without its fw_cfg blob: everything the guest is comes from the image.
      g.qemuArgs = [
        '-name',
        g.hostname,
        '-accel',
        'tcg',
        '-m',
        '1024',
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
        `file=${disk},if=virtio,format=qcow2,cache=unsafe`,
        '-netdev',
        `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${sshPort}-:22`,
        '-device',
        `virtio-net-pci,netdev=n0,mac=${NIC0_MAC}`,
        '-netdev',
        `socket,id=p0,udp=127.0.0.1:${peer},localaddr=127.0.0.1:${mine}`,
        '-device',
        `virtio-net-pci,netdev=p0,mac=${g.clusterMac}`,
      ];
      const state: LabState = {
        version: 1,
        dir,
        image: { path: output, hash: 'image-build' },
        identity,
        knownHosts,
        inventory,
        backend: 'legacy',
        memoryMb: 1024,
        accel: 'tcg',
        network: { kind: 'udp-pair', ports: [mine, peer] },
        guests: [g],
      };
      const start = Date.now();
      await startGuest(state, g);
      guest = g;
      target = { name: 'node1', port: sshPort, identity, knownHosts };
      await waitForSsh(target, { timeoutMs: labLimit(600_000), isAlive: () => supervisorRunning(g) });
      timings.set('boot.toSsh', Date.now() - start);

      // Host key checking is really on: an empty known_hosts is refused.
      const emptyKnown = join(dir, 'empty_known_hosts');
      writeFileSync(emptyKnown, '');
      const refused = await sshRun({ ...target, knownHosts: emptyKnown }, 'true', { timeoutMs: labLimit(30_000) });
      expect(refused.code).toBe(255);
      expect(refused.stderr).toMatch(/Host key verification failed/);

      const img = build!.image!;
      const facts = await sshCheck(
        target,
        'hostname; cat /proc/cmdline; ip -4 -o addr show; systemctl is-enabled ramster-lab-config.service || true; systemctl is-active ramster-swapoff.service; systemctl is-enabled ramster.service',
      );
      const [hostname, cmdline, ...rest] = facts.trim().split('\n');
      expect(hostname).toBe('system1');
      expect(cmdline).toMatch(/(^|\s)zcache ramster(\s|$)/);
      expect(cmdline).toContain(`root=UUID=${img.fsUuid}`);
      const addrs = rest.filter((l) => /^\d+: /.test(l));
      const cluster = addrs.find((l) => l.includes('inet 10.99.0.11/24'));
      const dhcp = addrs.find((l) => l.includes('inet 10.0.2.15/'));
      expect(cluster, addrs.join('\n')).toBeDefined();
      expect(dhcp, addrs.join('\n')).toBeDefined();
      expect(cluster!.split(/\s+/)[1]).not.toBe(dhcp!.split(/\s+/)[1]);
      expect(rest.filter((l) => !/^\d+: /.test(l))).toEqual(['disabled', 'active', 'enabled']);
    }),
  );

  it(
    'apply over SSH: changed == 0 for every step the build applied; the deferred steps run now or say they need a RAMster kernel',
    timings.timed('applyOverSsh', async () => {
      expect(target, 'the boot case started the guest').toBeDefined();
      const r = await cli(['apply', '-i', inventory, '--limit', 'node1', '--known-hosts', knownHosts, '--json']);
      const res = parseRun(r);
      timings.set('applyOverSsh.cli', r.ms);
      expect(r.code, explain({ ...r, result: res })).toBe(0);
      const built = hostOf(build!, 'node1');
      const now = hostOf(res, 'node1');
      expect(now.target).toBe(`root@127.0.0.1:${sshPort}`);
      const byKey = new Map(now.steps.map((s) => [stepKey(s), s]));

      const applied = built.steps.filter((s) => s.status === 'changed' && !s.handler);
      expect(applied.length).toBeGreaterThanOrEqual(8);
      for (const s of applied) {
        const again = byKey.get(stepKey(s));
        expect(again, `${stepKey(s)} ran over SSH`).toBeDefined();
        expect([stepKey(s), again!.status, again!.change?.summary]).toEqual([stepKey(s), 'ok', expect.any(String)]);
      }
      // Steps that were fine in the image are fine on the booted host too.
      for (const s of built.steps.filter((x) => x.status === 'ok'))
        expect([stepKey(s), byKey.get(stepKey(s))?.status]).toEqual([stepKey(s), 'ok']);

      for (const d of build!.image!.deferred.filter((x) => x.when === 'deferred')) {
        const again = now.steps.find((s) => s.step === d.step && s.handler === d.handler);
        if (d.type === 'reboot') {
          // Nothing notifies it: the image booted with the parameters already.
          expect(again, 'no cluster reboot on a host that booted the baked image').toBeUndefined();
          continue;
        }
        expect(again, `${d.step} runs over SSH`).toBeDefined();
        if (again!.status === 'skipped') expect(again!.message, d.step).toMatch(/needs a RAMster kernel/);
        else expect(['ok', 'changed']).toContain(again!.status);
      }
      console.log(
        `[image-build] apply over SSH: ${JSON.stringify(now.counts)}; ${now.steps
          .filter((s) => s.status !== 'ok')
          .map((s) => `${s.status} ${s.step}`)
          .join('; ')}`,
      );
      expect(res.totals.changed, explain({ ...r, result: res })).toBe(0);
      expect(now.steps.some((s) => s.handler)).toBe(false);
    }),
  );

  it(
    'a playbook that fails in the chroot writes nothing: exit 3, no image, no known_hosts, no temp file, no work dir, no mount left',
    timings.timed('failedBuild', async () => {
      if (guest) {
        await stopGuest(guest);
        guest = undefined;
      }
      const playbook = join(dir, 'fails.yaml');
      writeFileSync(
        playbook,
        stringify([
          {
            name: 'image build that fails',
            hosts: 'all',
            steps: [
              // The chroot has its own proc, sys and dev for the run.
              {
                name: 'mounts inside the chroot',
                command: {
                  cmd: 'test -r /proc/self/mountinfo && test -c /dev/null && test -d /sys/kernel && test -d /run/systemd/system',
                  changed: false,
                },
              },
              {
                name: 'a file that would land in the image',
                file: { path: '/etc/ramster-image-test', content: 'x\n' },
              },
              { name: 'a step that fails', command: { cmd: 'echo broken >&2; exit 3' } },
            ],
          },
        ]),
      );
      const before = workDirs(cache);
      const out = join(dir, 'fails.qcow2');
      const r = await cli(
        ['image', 'build', '-i', inventory, '--host', 'node1', '-o', out, playbook, '--json'],
        labLimit(1_800_000),
      );
      const res = parseBuild(r);
      expect(r.code, explain({ ...r, result: res })).toBe(3);
      expect(res.image).toBeUndefined();
      expect(res.error).toMatch(/no image was written/);
      expect(hostOf(res, 'node1').steps.map((s) => [s.step, s.status])).toEqual([
        ['mounts inside the chroot', 'ok'],
        ['a file that would land in the image', 'changed'],
        ['a step that fails', 'failed'],
      ]);
      expect(readdirSync(dir).filter((f) => f.startsWith('fails') || f.startsWith('.fails'))).toEqual(['fails.yaml']);
      expect(workDirs(cache)).toEqual(before);
      expect(mountsUnder(join(cache, 'image-builds'))).toEqual([]);
      expect(mountsUnder(dir)).toEqual([]);
    }),
  );
});
