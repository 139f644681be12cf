import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { renderRamsterConf } from '../../../src/ramster/conf.ts';
import { renderDefaults } from '../../../src/ramster/defaults.ts';
import { makeCluster, ramsterCtl, withRamster } from './clusters.ts';
import { tempDir } from '../../helpers/tmp.ts';

// FAKE KERNEL: configfs, /sys/kernel/mm/ramster and /proc are plain folders here, and `mkdir`/
// `rmdir` are wrappers on PATH that add what configfs does by itself (the default groups and
// attributes of a new cluster, refusing to remove a cluster that still has nodes). The write
// order is read from ramster-ctl's own trace (-v). The real configfs `cluster` ABI is tested
// in a QEMU guest with ocfs2_nodemanager, with the lab suites.

let root: string;
let cfs: string;
let sysfs: string;

const fakeMkdir = `#!/bin/sh
/bin/mkdir "$@" || exit $?
for d in "$@"; do
  case "$d" in
  "$FAKE_CFS"/cluster/*/*) ;;
  "$FAKE_CFS"/cluster/*)
    /bin/mkdir "$d/node" "$d/heartbeat"
    echo 30000 > "$d/idle_timeout_ms"; echo 2000 > "$d/keepalive_delay_ms"
    echo 2000 > "$d/reconnect_delay_ms"; echo reset > "$d/fence_method"
    echo 31 > "$d/heartbeat/dead_threshold" ;;
  esac
done
`;
const fakeRmdir = `#!/bin/sh
for d in "$@"; do
  case "$d" in
  "$FAKE_CFS"/cluster/*/node/*) rm -rf "$d" ;;
  "$FAKE_CFS"/cluster/*)
    if [ -n "$(ls "$d/node")" ]; then echo "rmdir: $d: Directory not empty" >&2; exit 1; fi
    rm -rf "$d" ;;
  *) /bin/rmdir "$d" || exit $? ;;
  esac
done
`;

function setup(
  conf = renderRamsterConf(makeCluster(3, 'ram-server')),
  defaults = renderDefaults(makeCluster(3, 'ram-server'), 1),
) {
  root = tempDir('ramster-ctl-');
  cfs = join(root, 'config');
  sysfs = join(root, 'mm-ramster');
  for (const d of ['bin', 'config/cluster', 'mm-ramster', 'debug-ramster', 'proc', 'etc'])
    mkdirSync(join(root, d), { recursive: true });
  for (const c of ['eph_pages_remoted', 'pers_pages_remoted']) writeFileSync(join(root, 'debug-ramster', c), '0\n');
  writeFileSync(join(root, 'bin/mkdir'), fakeMkdir);
  writeFileSync(join(root, 'bin/rmdir'), fakeRmdir);
  chmodSync(join(root, 'bin/mkdir'), 0o755);
  chmodSync(join(root, 'bin/rmdir'), 0o755);
  writeFileSync(join(root, 'proc/mounts'), `sysfs /sys sysfs rw 0 0\nconfigfs ${cfs} configfs rw,relatime 0 0\n`);
  writeFileSync(join(root, 'proc/filesystems'), 'nodev\tsysfs\nnodev\tconfigfs\n');
  writeFileSync(join(root, 'proc/modules'), 'ext4 1 0 - Live 0x0\n');
  writeFileSync(join(root, 'proc/swaps'), 'Filename\tType\tSize\tUsed\tPriority\n');
  writeFileSync(join(sysfs, 'manual_node_up'), '\n');
  writeFileSync(join(sysfs, 'remote_target_nodenum'), 'unset\n');
  writeFileSync(join(sysfs, 'pers_remotify_enable'), '0\n');
  writeFileSync(join(sysfs, 'eph_remotify_enable'), '0\n');
  writeFileSync(join(root, 'etc/ramster.conf'), conf);
  writeFileSync(join(root, 'etc/default-ramster'), defaults);
}

function ctl(args: string[], opts: { hostname?: string; stdin?: string } = {}) {
  const r = spawnSync('sh', [ramsterCtl, '-v', ...args], {
    env: {
      PATH: `${join(root, 'bin')}:${process.env.PATH}`,
      FAKE_CFS: cfs,
      RAMSTER_CONF: join(root, 'etc/ramster.conf'),
      RAMSTER_DEFAULTS: join(root, 'etc/default-ramster'),
      RAMSTER_CONFIGFS: cfs,
      RAMSTER_SYSFS: sysfs,
      RAMSTER_DEBUGFS: join(root, 'debug-ramster'),
      RAMSTER_PROC: join(root, 'proc'),
      RAMSTER_HOSTNAME: opts.hostname ?? 'node1',
      RAMSTER_TARGET_RETRIES: '1',
    },
    input: opts.stdin,
    encoding: 'utf8',
  });
  const trace = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('+ '))
    .map((l) => l.slice(2).replaceAll(root, ''));
  const errors = r.stderr
    .split('\n')
    .filter((l) => l && !l.startsWith('+ '))
    .join('\n');
  return { code: r.status, stdout: r.stdout, trace, errors };
}

const read = (p: string) => readFileSync(join(root, p), 'utf8');

/** configfs tree as path -> content (directories end in /). */
function tree(dir = cfs, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = `${prefix}/${e.name}`;
    if (e.isDirectory()) Object.assign(out, { [`${p}/`]: '' }, tree(join(dir, e.name), p));
    else out[p] = readFileSync(join(dir, e.name), 'utf8');
  }
  return out;
}

function nodeWrites(n: number, name: string, local: 0 | 1) {
  const d = `/config/cluster/ramster/node/${name}`;
  return [
    `mkdir ${d}`,
    `write ${d}/ipv4_port 7777`,
    `write ${d}/ipv4_address 10.0.0.${10 + n}`,
    `write ${d}/num ${n}`,
    `write ${d}/local ${local}`,
  ];
}

describe('ramster-ctl start / stop', () => {
  beforeEach(() => setup());

  it('creates the cluster, every node in o2cb order (port, address, num, local), then the timeouts', () => {
    const r = ctl(['start']);
    expect(r.errors).toBe('');
    expect(r.code).toBe(0);
    expect(r.trace).toEqual([
      'mkdir /config/cluster/ramster',
      ...nodeWrites(0, 'node0', 0),
      ...nodeWrites(1, 'node1', 1),
      ...nodeWrites(2, 'node2', 0),
      // keepalive and reconnect already hold the wanted 2000: written only when they differ
      'write /config/cluster/ramster/heartbeat/dead_threshold 500',
      'write /config/cluster/ramster/idle_timeout_ms 1000000',
    ]);
    expect(r.stdout).toContain('RAMSTER cluster "ramster": configured (this host is node 1, node1)');
    const t = tree();
    expect(t['/cluster/ramster/node/node1/local']).toBe('1\n');
    expect(t['/cluster/ramster/node/node0/local']).toBe('0\n');
    expect(t['/cluster/ramster/node/node2/ipv4_address']).toBe('10.0.0.12\n');
    expect(t['/cluster/ramster/node/node2/num']).toBe('2\n');
    expect(t['/cluster/ramster/heartbeat/dead_threshold']).toBe('500\n');
    expect(t['/cluster/ramster/idle_timeout_ms']).toBe('1000000\n');
    expect(t['/cluster/ramster/keepalive_delay_ms']).toBe('2000\n');
    expect(
      Object.keys(t)
        .filter((k) => k.endsWith('/'))
        .sort(),
    ).toEqual([
      '/cluster/',
      '/cluster/ramster/',
      '/cluster/ramster/heartbeat/',
      '/cluster/ramster/node/',
      '/cluster/ramster/node/node0/',
      '/cluster/ramster/node/node1/',
      '/cluster/ramster/node/node2/',
    ]);
  });

  it('writes keepalive before the idle timeout when the new idle timeout is not above the current keepalive', () => {
    setup(undefined, renderDefaults(withRamster(makeCluster(3), { idleTimeoutMs: 6000, keepaliveDelayMs: 5000 }), 1));
    mkdirSync(join(cfs, 'cluster/ramster/node'), { recursive: true });
    mkdirSync(join(cfs, 'cluster/ramster/heartbeat'));
    writeFileSync(join(cfs, 'cluster/ramster/idle_timeout_ms'), '100000\n');
    writeFileSync(join(cfs, 'cluster/ramster/keepalive_delay_ms'), '50000\n');
    const r = ctl(['start']);
    expect(r.code).toBe(0);
    const timeouts = r.trace.filter((l) => /_ms |threshold/.test(l)).map((l) => l.split('/').pop());
    expect(timeouts).toEqual([
      'dead_threshold 500',
      'keepalive_delay_ms 5000',
      'idle_timeout_ms 6000',
      'reconnect_delay_ms 2000',
    ]);
  });

  it('is idempotent: a second start changes nothing, and its dry run reports nothing pending', () => {
    expect(ctl(['start']).code).toBe(0);
    const before = tree();
    const again = ctl(['start']);
    expect(again).toMatchObject({ code: 0, trace: [] });
    expect(again.stdout).toContain('already configured, nothing to change');
    expect(ctl(['-n', 'start'])).toMatchObject({ code: 0, trace: [] });
    expect(tree()).toEqual(before);
  });

  it('dry run on a fresh kernel lists the changes, makes none, exits 2', () => {
    const r = ctl(['-n', 'start']);
    expect(r.code).toBe(2);
    expect(r.trace[0]).toBe('mkdir /config/cluster/ramster');
    expect(r.trace).toContain('write /config/cluster/ramster/node/node1/local 1');
    expect(readdirSync(join(cfs, 'cluster'))).toEqual([]);
  });

  it('adds a node missing from configfs without touching the others', () => {
    expect(ctl(['start']).code).toBe(0);
    ctl(['stop']);
    expect(ctl(['start']).code).toBe(0);
    spawnSync('rm', ['-rf', join(cfs, 'cluster/ramster/node/node2')]);
    const r = ctl(['start']);
    expect(r.code).toBe(0);
    expect(r.trace).toEqual(nodeWrites(2, 'node2', 0));
  });

  it('refuses to change write-once attributes and says how to recover', () => {
    expect(ctl(['start']).code).toBe(0);
    const moved = makeCluster(3);
    moved.nodes[2].clusterAddress = '10.0.0.99';
    writeFileSync(join(root, 'etc/ramster.conf'), renderRamsterConf(moved));
    const r = ctl(['start']);
    expect(r.code).toBe(1);
    expect(r.trace).toEqual([]);
    expect(r.errors).toContain("node node2: ipv4_address is '10.0.0.12' in configfs, '10.0.0.99' in");
    expect(r.errors).toMatch(/write-once: run "ramster-ctl stop" then "ramster-ctl start"/);
  });

  it('refuses a second cluster: the kernel holds one', () => {
    mkdirSync(join(cfs, 'cluster/other/node'), { recursive: true });
    const r = ctl(['start']);
    expect(r.code).toBe(1);
    expect(r.errors).toMatch(/cluster 'other' is configured in configfs/);
    expect(r.trace).toEqual([]);
  });

  it('refuses a kernel without the configfs cluster subsystem, and a broken conf with line numbers', () => {
    spawnSync('rm', ['-rf', join(cfs, 'cluster')]);
    expect(ctl(['start']).errors).toMatch(/no 'cluster' subsystem: the running kernel has no RAMster/);
    setup(renderRamsterConf(makeCluster(3)).replace('number = 2', 'number = 2 '));
    const r = ctl(['start']);
    expect(r.code).toBe(1);
    expect(r.errors).toMatch(/ramster\.conf:22: trailing blank after the value of 'number'/);
    expect(r.trace).toEqual([]);
  });

  it('mounts configfs when it is not mounted', () => {
    writeFileSync(join(root, 'proc/mounts'), 'sysfs /sys sysfs rw 0 0\n');
    const r = ctl(['-n', 'start']);
    expect(r.code).toBe(2);
    expect(r.trace).toEqual([`mount -t configfs none /config`]);
  });

  it('start --boot does nothing when RAMSTER_ENABLED is not true', () => {
    writeFileSync(
      join(root, 'etc/default-ramster'),
      read('etc/default-ramster').replace('RAMSTER_ENABLED=true', 'RAMSTER_ENABLED=false'),
    );
    const r = ctl(['start', '--boot']);
    expect(r).toMatchObject({ code: 0, trace: [] });
    expect(r.stdout).toMatch(/not starting/);
  });

  it('start --boot on a kernel without RAMster succeeds without touching configfs (SysV boots must not fail)', () => {
    rmSync(sysfs, { recursive: true, force: true });
    const r = ctl(['start', '--boot']);
    expect(r).toMatchObject({ code: 0, trace: [] });
    expect(r.stdout).toMatch(/this kernel has no RAMster/);
  });

  it('rejects settings the kernel would refuse', () => {
    writeFileSync(join(root, 'etc/default-ramster'), 'RAMSTER_IDLE_TIMEOUT_MS=2000\nRAMSTER_KEEPALIVE_DELAY_MS=2000\n');
    const r = ctl(['start']);
    expect(r.code).toBe(1);
    expect(r.errors).toMatch(/must be greater than RAMSTER_KEEPALIVE_DELAY_MS/);
    writeFileSync(join(root, 'etc/default-ramster'), 'RAMSTER_BOOTCLUSTER=other\n');
    expect(ctl(['start']).errors).toMatch(/RAMSTER_BOOTCLUSTER is 'other' but .* describes cluster 'ramster'/);
  });

  it('stop removes the nodes, then the cluster; a second stop has nothing to do', () => {
    expect(ctl(['start']).code).toBe(0);
    const r = ctl(['stop']);
    expect(r.code).toBe(0);
    expect(r.trace).toEqual([
      'rmdir /config/cluster/ramster/node/node0',
      'rmdir /config/cluster/ramster/node/node1',
      'rmdir /config/cluster/ramster/node/node2',
      'rmdir /config/cluster/ramster',
    ]);
    expect(readdirSync(join(cfs, 'cluster'))).toEqual([]);
    expect(ctl(['stop'])).toMatchObject({ code: 0, trace: [] });
  });

  it('on a RAMster kernel that has sent pages away, stop --boot keeps the cluster (3.10 BUGs on a flush to a removed node) and stop refuses', () => {
    expect(ctl(['start']).code).toBe(0);
    writeFileSync(join(root, 'debug-ramster/pers_pages_remoted'), '2259\n');
    const boot = ctl(['stop', '--boot']);
    expect(boot.code, boot.errors).toBe(0);
    expect(boot.trace).toEqual([]);
    expect(boot.stdout).toMatch(
      /RAMSTER cluster "ramster": kept; it stops with the kernel \(RAMster sent 2259 pages to other nodes since boot.*r2net_remote_flush\)/,
    );
    const manual = ctl(['stop']);
    expect(manual.code).toBe(1);
    expect(manual.trace).toEqual([]);
    expect(manual.errors).toMatch(
      /not removing cluster "ramster": RAMster sent 2259 pages[\s\S]*hint: turn swap off \(swapoff -a\) and reboot/,
    );
    expect(readdirSync(join(cfs, 'cluster'))).toEqual(['ramster']);
  });

  it('stop refuses when the remotified counters cannot be read on a RAMster kernel (debugfs not mounted)', () => {
    expect(ctl(['start']).code).toBe(0);
    rmSync(join(root, 'debug-ramster'), { recursive: true });
    const r = ctl(['stop']);
    expect(r.code).toBe(1);
    expect(r.errors).toMatch(/RAMster sent an unknown number of pages/);
    expect(readdirSync(join(cfs, 'cluster'))).toEqual(['ramster']);
  });

  it('stop --boot runs swapoff first when swap is on and RAMSTER_SWAPOFF_ON_STOP=true', () => {
    expect(ctl(['start']).code).toBe(0);
    writeFileSync(join(root, 'proc/swaps'), 'Filename\tType\tSize\tUsed\tPriority\n/swapfile file 1024 0 -2\n');
    const r = ctl(['-n', 'stop', '--boot']);
    expect(r.code).toBe(2);
    expect(r.trace[0]).toBe('swapoff -a');
    expect(r.trace.at(-1)).toBe('rmdir /config/cluster/ramster');
  });
});

describe('ramster-ctl status', () => {
  beforeEach(() => setup());

  it('prints the HOW-TO lines when online', () => {
    expect(ctl(['start']).code).toBe(0);
    const r = ctl(['status']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'Driver for "configfs": Loaded',
        'Filesystem "configfs": Mounted',
        'Driver for "ocfs2_dlmfs": Not loaded',
        'Checking RAMSTER cluster "ramster": Online',
        '  Heartbeat dead threshold: 500',
        '  Network idle timeout: 1000000',
        '  Network keepalive delay: 2000',
        '  Network reconnect delay: 2000',
        'Checking RAMSTER heartbeat: Not active',
        '',
      ].join('\n'),
    );
  });

  it('is Offline (exit 3) without a local node', () => {
    const r = ctl(['status']);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/Checking RAMSTER cluster "ramster": Offline\n$/);
  });
});

describe('ramster-ctl node-up / remotify', () => {
  beforeEach(() => setup());

  it('refuses node-up before the cluster exists (the write would use up the one-shot flag)', () => {
    const r = ctl(['node-up']);
    expect(r.code).toBe(1);
    expect(r.errors).toMatch(/not online in configfs/);
    expect(r.trace).toEqual([]);
  });

  it('marks every node up, skipping nodes already up', () => {
    expect(ctl(['start']).code).toBe(0);
    writeFileSync(join(sysfs, 'manual_node_up'), '1 \n');
    const r = ctl(['node-up']);
    expect(r.code).toBe(0);
    expect(r.trace).toEqual(['write /mm-ramster/manual_node_up 0', 'write /mm-ramster/manual_node_up 2']);
    expect(ctl(['node-up', '9']).errors).toMatch(/node 9 is not in/);
  });

  it('sets the target from the defaults, reads it back, then enables remotifying', () => {
    expect(ctl(['start']).code).toBe(0);
    const r = ctl(['remotify']);
    expect(r.code).toBe(0);
    expect(r.trace).toEqual([
      'write /mm-ramster/remote_target_nodenum 0',
      'write /mm-ramster/pers_remotify_enable 1',
      'write /mm-ramster/eph_remotify_enable 1',
    ]);
    expect(ctl(['remotify'])).toMatchObject({ code: 0, trace: [] });
  });

  it('fails when the kernel ignores the target write (target not up)', () => {
    expect(ctl(['start']).code).toBe(0);
    // Stand-in for the kernel ignoring the write: it succeeds, but reads back nothing.
    spawnSync('ln', ['-sf', '/dev/null', join(sysfs, 'remote_target_nodenum')]);
    const r = ctl(['remotify']);
    expect(r.code).toBe(1);
    expect(r.errors).toMatch(/node 0 did not become the remote target: it is not up/);
    expect(r.trace).toEqual(['write /mm-ramster/remote_target_nodenum 0']);
  });

  it('refuses to change a target already set, and a node targeting itself', () => {
    writeFileSync(join(sysfs, 'remote_target_nodenum'), '3\n');
    const other = ctl(['remotify']);
    expect(other.code).toBe(1);
    expect(other.errors).toMatch(/already node 3/);
    writeFileSync(join(sysfs, 'remote_target_nodenum'), 'unset\n');
    expect(ctl(['remotify', '1']).errors).toMatch(/cannot be its own remote target/);
  });

  it('a lending-only node has no target: nothing to do', () => {
    writeFileSync(join(root, 'etc/default-ramster'), renderDefaults(makeCluster(3), 0));
    const r2 = ctl(['remotify'], { hostname: 'node0' });
    expect(r2).toMatchObject({ code: 0, trace: [] });
    expect(r2.stdout).toMatch(/No remote target/);
  });
});

describe('ramster-ctl configure', () => {
  beforeEach(() => setup());

  it('asks the HOW-TO questions and updates the defaults file in place', () => {
    const r = ctl(['configure'], { stdin: 'y\nramster\n600\n\n3000\n\n' });
    expect(r.errors).toBe('');
    expect(r.code).toBe(0);
    const text = read('etc/default-ramster');
    expect(text).toMatch(/^RAMSTER_HEARTBEAT_THRESHOLD=600$/m);
    expect(text).toMatch(/^RAMSTER_IDLE_TIMEOUT_MS=1000000$/m);
    expect(text).toMatch(/^RAMSTER_KEEPALIVE_DELAY_MS=3000$/m);
    expect(text).toMatch(/^RAMSTER_REMOTE_TARGET=0$/m);
    expect(text).toContain('# RAMSTER_ENABLED:');
    expect(r.stdout).toContain('Heartbeat dead threshold (>=3) [500]: ');
  });

  it('rejects a threshold the kernel ignores', () => {
    const r = ctl(['configure'], { stdin: 'y\nramster\n2\n\n\n\n' });
    expect(r.code).toBe(1);
    expect(r.errors).toMatch(/threshold of 2 is ignored/);
    expect(existsSync(join(root, 'etc/default-ramster'))).toBe(true);
    expect(read('etc/default-ramster')).toMatch(/^RAMSTER_HEARTBEAT_THRESHOLD=500$/m);
  });
});
