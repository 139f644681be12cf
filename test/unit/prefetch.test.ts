import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_PATH } from '../../src/engine/hostlock.ts';
import { PENDING_PATH } from '../../src/engine/pending.ts';
import type { RunResult } from '../../src/engine/result.ts';
import { runPlaybook } from '../../src/engine/run.ts';
import { loadInventoryText } from '../../src/inventory/load.ts';
import { loadPlaybook, loadPlaybookText } from '../../src/playbook/load.ts';
import { commandStep } from '../../src/steps/command.ts';
import { mountStep } from '../../src/steps/mount.ts';
import { packageStep } from '../../src/steps/package.ts';
import { preflightStep } from '../../src/steps/ramster/preflight.ts';
import { serviceStep } from '../../src/steps/service.ts';
import { sysfsStep } from '../../src/steps/sysfs.ts';
import type { Change } from '../../src/steps/types.ts';
import {
  parseSnapshot,
  probe,
  readFileState,
  readOnly,
  run,
  runFrames,
  SNAPSHOT_MAX_BYTES,
  snapshotScript,
  writeFileAtomic,
} from '../../src/transport/fileops.ts';
import { LocalTransport } from '../../src/transport/local.ts';
import { framed } from '../../src/frame.ts';
import { HostTransport } from '../../src/engine/hosttransport.ts';
import type { FileStateSnapshot } from '../../src/transport/snapshot.ts';

/** The transport a host's steps get from the engine, with a snapshot and no lock. */
const withSnapshot = (t: Transport, snapshot: FileStateSnapshot) => new HostTransport(t, { snapshot });
import type { Transport } from '../../src/transport/types.ts';
import { makeCtx } from './steps/helpers.ts';
import { clusterHosts, ramsterCtx } from './steps/ramster/fixtures.ts';

// The file-state snapshot against a real folder (LocalTransport): what it keeps, what a write
// forgets, and the round trips it saves the engine.
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rp-prefetch-'));
  mkdirSync(join(dir, 'etc/sub'), { recursive: true });
  writeFileSync(join(dir, 'etc/a.conf'), 'alpha\n');
  writeFileSync(join(dir, 'etc/b.conf'), 'beta\n');
  writeFileSync(join(dir, 'etc/empty'), '');
  symlinkSync('a.conf', join(dir, 'etc/link.conf'));
  symlinkSync('sub', join(dir, 'etc/subdir'));
  writeFileSync(join(dir, 'etc/sub/inner'), 'inner\n');
  linkSync(join(dir, 'etc/b.conf'), join(dir, 'etc/hard.conf'));
  writeFileSync(join(dir, 'etc/big'), Buffer.alloc(SNAPSHOT_MAX_BYTES + 1, 'x'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function snapshotOf(t: LocalTransport, paths: string[]) {
  return parseSnapshot(await runFrames(t, snapshotScript(t, paths), 'snapshot'), t, paths);
}

describe('file-state snapshot', () => {
  it('keeps plain files, folders and absent paths; leaves out symlinks, hard links and big files', async () => {
    const t = new LocalTransport(dir);
    await writeFileAtomic(t, '/etc/a.conf', 'alpha\n', { mode: '0640' });
    const paths = [
      '/etc/a.conf',
      '/etc/empty',
      '/etc/sub',
      '/etc/missing',
      '/nodir/missing',
      '/etc/link.conf',
      '/etc/subdir/inner',
      '/etc/hard.conf',
      '/etc/big',
    ];
    const snap = await snapshotOf(t, paths);
    expect(snap.get('/etc/a.conf', true)).toEqual({
      exists: true,
      isDir: false,
      mode: '0640',
      owner: 'root',
      group: 'root',
      content: Buffer.from('alpha\n'),
    });
    expect(snap.get('/etc/a.conf', false)?.content).toBeUndefined();
    expect(snap.get('/etc/empty', true)?.content).toEqual(Buffer.alloc(0));
    expect(snap.get('/etc/sub', true)).toMatchObject({ exists: true, isDir: true });
    expect(snap.get('/etc/missing', true)).toEqual({ exists: false });
    expect(snap.get('/nodir/missing', true)).toEqual({ exists: false });
    for (const p of ['/etc/link.conf', '/etc/subdir/inner', '/etc/hard.conf', '/etc/big'])
      expect(snap.get(p, true), p).toBeUndefined();
    expect(snap.size).toBe(5);
  });

  it('leaves out a file whose bytes do not match their checksum (changed while read), and the files after it', async () => {
    const t = new LocalTransport(dir);
    const paths = ['/etc/empty', '/etc/a.conf', '/etc/sub/inner'];
    const script = framed(snapshotScript(t, paths));
    const out = await run(t, script.script, 'snapshot');
    expect(parseSnapshot(script.read(out), t, paths).size).toBe(3);
    const tampered = out.replace(
      / content\n(.*)\n/,
      (_, b64: string) =>
        ` content\n${Buffer.from(Buffer.from(b64, 'base64').toString().replace('alpha', 'ALPHA')).toString('base64')}\n`,
    );
    expect(tampered).not.toBe(out);
    const snap = parseSnapshot(script.read(tampered), t, paths);
    expect(snap.get('/etc/empty', true)?.content).toEqual(Buffer.alloc(0));
    expect(snap.get('/etc/a.conf', true)).toBeUndefined();
    expect(snap.get('/etc/sub/inner', true)).toBeUndefined();
    // output that does not have one line per path is not trusted at all
    const extraLine = out.replace(' canonical\n', ' canonical\n/x\n');
    expect(extraLine).not.toBe(out);
    expect(parseSnapshot(script.read(extraLine), t, paths).size).toBe(0);
  });

  it('answers readFileState without a round trip, the same as a live read', async () => {
    const t = new LocalTransport(dir);
    const live = await readFileState(t, '/etc/a.conf');
    const snapped = withSnapshot(t, await snapshotOf(t, ['/etc/a.conf', '/etc/missing']));
    const before = t.roundTrips;
    expect(await readFileState(snapped, '/etc/a.conf')).toEqual(live);
    expect(await readFileState(snapped, '/etc/missing')).toEqual({ exists: false });
    expect(t.roundTrips).toBe(before);
    // not in the snapshot: read live
    expect((await readFileState(snapped, '/etc/sub/inner')).content?.toString()).toBe('inner\n');
    expect(t.roundTrips).toBe(before + 1);
  });

  it('forgets a written path and its folders but keeps the others; a command that does not say what it changes clears it', async () => {
    const t = new LocalTransport(dir);
    const snapped = withSnapshot(t, await snapshotOf(t, ['/etc/a.conf', '/etc/b.conf', '/etc/new/x', '/etc/new']));
    await writeFileAtomic(snapped, '/etc/new/x', 'x\n');
    expect((await readFileState(snapped, '/etc/new')).isDir).toBe(true); // folder made by mkdir -p: re-read
    expect((await readFileState(snapped, '/etc/new/x')).content?.toString()).toBe('x\n');
    writeFileSync(join(dir, 'etc/a.conf'), 'changed behind our back\n');
    expect((await readFileState(snapped, '/etc/a.conf')).content?.toString()).toBe('alpha\n'); // still the snapshot
    await snapped.exec('true');
    expect((await readFileState(snapped, '/etc/a.conf')).content?.toString()).toBe('changed behind our back\n');
  });

  it('a write forgets its backup copies but not a sibling that only shares the name prefix', async () => {
    const t = new LocalTransport(dir);
    const snapped = withSnapshot(
      t,
      await snapshotOf(t, ['/etc/a.conf', '/etc/a.conf.d/x', '/etc/a.conf.20250101000000~']),
    );
    await writeFileAtomic(snapped, '/etc/a.conf', 'new\n', { backup: true });
    const before = t.roundTrips;
    expect(await readFileState(snapped, '/etc/a.conf.d/x')).toEqual({ exists: false });
    expect(t.roundTrips).toBe(before);
    // the backup name is the write's own timestamp, so any backup-shaped path is re-read
    expect((await readFileState(snapped, '/etc/a.conf.20250101000000~')).exists).toBe(false);
    expect(t.roundTrips).toBe(before + 1);
  });

  it('forgets everything after a write to a path it does not know to be free of symlinks', async () => {
    const t = new LocalTransport(dir);
    const snapped = withSnapshot(t, await snapshotOf(t, ['/etc/sub/inner']));
    await writeFileAtomic(snapped, '/etc/subdir/inner', 'through the symlink\n');
    expect(readFileSync(join(dir, 'etc/sub/inner'), 'utf8')).toBe('through the symlink\n');
    expect((await readFileState(snapped, '/etc/sub/inner')).content?.toString()).toBe('through the symlink\n');
  });
});

describe('read-only commands keep the snapshot', () => {
  it('probe and readOnly exec keep it; run and a plain exec clear it', async () => {
    const t = new LocalTransport(dir);
    const snapped = withSnapshot(t, await snapshotOf(t, ['/etc/a.conf', '/etc/missing']));
    await probe(snapped, 'cat etc/b.conf', 'read');
    await snapped.exec('cat etc/b.conf', readOnly());
    expect(snapped.snapshot!.size).toBe(2);
    await run(snapped, 'cat etc/b.conf', 'read');
    expect(snapped.snapshot!.size).toBe(0);
  });

  // Each step's state read on a host where it finds nothing to do: it only reads, so the files
  // later steps read are still served without a round trip. `live`: the step checks the running
  // system, which a folder target has not.
  const vars = clusterHosts(2).get('host0')!;
  const cases: { name: string; live?: boolean; check: (t: Transport) => Promise<Change> }[] = [
    {
      name: 'service state',
      check: (t) => serviceStep.checkApply({ name: 'rp-not-there', enabled: false }, makeCtx(t, false)),
    },
    {
      name: 'mount: is it mounted',
      live: true,
      check: (t) => mountStep.checkApply({ path: '/rp-never-mounted', state: 'unmounted' }, makeCtx(t, false)),
    },
    { name: 'preflight hostname', check: (t) => preflightStep.checkApply({}, ramsterCtx(t, false, 'host0', vars)) },
    {
      name: 'command creates',
      check: (t) => commandStep.checkApply({ cmd: 'false', creates: '/etc/a.conf' }, makeCtx(t, false)),
    },
    {
      name: 'package query',
      live: true,
      check: (t) => packageStep.checkApply({ name: 'rp-no-such-package', state: 'absent' }, makeCtx(t, false)),
    },
    {
      name: 'sysfs read',
      live: true,
      check: (t) => sysfsStep.checkApply({ path: '/proc/sys/kernel/ostype', value: 'Linux' }, makeCtx(t, false)),
    },
  ];
  it.each(cases)('$name', async ({ live, check }) => {
    writeFileSync(join(dir, 'etc/hostname'), 'node0\n');
    const t = live ? new LocalTransport() : new LocalTransport(dir);
    const kept = live ? join(dir, 'etc/a.conf') : '/etc/a.conf';
    const snapped = withSnapshot(t, await snapshotOf(t, [kept]));
    expect((await check(snapped)).action).toBe('none');
    const before = t.roundTrips;
    expect((await readFileState(snapped, kept)).content?.toString()).toBe('alpha\n');
    expect(t.roundTrips).toBe(before);
  });
});

describe('engine round trips with the snapshot', () => {
  const pbText = `
- name: files
  hosts: all
  steps:
    - {name: one, file: {path: /etc/one, content: "1\\n", mode: "0644"}}
    - {name: two, file: {path: /etc/deep/two, content: "2\\nextra\\n"}}
    - {name: line, lineinfile: {path: /etc/deep/two, line: "extra"}}
    - {name: block, blockinfile: {path: /etc/three, block: "b", create: true}}
    - {name: fstab, mount: {path: /mnt/x, src: tmpfs, fstype: tmpfs, state: present}}
    - {name: by fact, file: {path: "/etc/{{ facts.os_family }}.txt", content: "f\\n"}}
`;
  const inventory = () =>
    loadInventoryText(join(dir, 'inv.yaml'), `all:\n  hosts:\n    h: {connection: local, root: ${dir}}\n`);
  const opts = (apply: boolean) => ({ apply, forks: 1, connect: { acceptNewHostKeys: false, connectTimeoutMs: 1000 } });
  const serial = () => readFileSync(join(dir, `${LOCK_PATH}.serial`), 'utf8').trim();

  it('a no-op apply is 1 round trip per host and takes no lock; a plan 1; a converge adds the lock, a batch of writes before each live read, the unlock on the last', async () => {
    const inv = inventory();
    const pb = loadPlaybookText(join(dir, 'pb.yaml'), pbText);
    const first = await runPlaybook(inv, pb, opts(true));
    expect(first.hosts[0].status).toBe('changed');
    // read + lock + the writes of `one` and `two` in one batch; `line` reads /etc/deep/two live
    // after `two` wrote it (+1) and finds its line there; `block` and `fstab` in one batch before
    // the live read of the fact-dependent path (+1); its write in the last batch, with the unlock.
    expect(first.hosts[0].roundTrips).toBe(1 + 1 + 1 + 1 + 1 + 1 + 1);
    expect(first.hosts[0].steps.map((s) => s.status)).toEqual([
      'changed',
      'changed',
      'ok',
      'changed',
      'changed',
      'changed',
    ]);
    expect(serial()).toBe('1');

    const again = await runPlaybook(inv, pb, opts(true));
    expect(again.totals.changed).toBe(0);
    expect(again.hosts[0].roundTrips).toBe(1 + 1); // + the live read of the fact-dependent path
    expect(serial()).toBe('1'); // the lock was never taken
    expect(existsSync(join(dir, LOCK_PATH))).toBe(false);

    const withoutFacts = loadPlaybookText(join(dir, 'pb2.yaml'), pbText.replace(/^.*by fact.*$/m, ''));
    const noop = await runPlaybook(inv, withoutFacts, opts(true));
    expect(noop.totals).toMatchObject({ changed: 0, failed: 0, ok: 5 });
    expect(noop.hosts[0].roundTrips).toBe(1);
    expect(serial()).toBe('1');

    const plan = await runPlaybook(inv, pb, opts(false));
    expect(plan.totals.changed).toBe(0);
    expect(plan.hosts[0].roundTrips).toBe(1 + 1);
  });

  it("a no-op apply on a host never provisioned writes nothing there, not even the lock's files", async () => {
    const pb = loadPlaybookText(
      join(dir, 'pb.yaml'),
      `- hosts: all\n  steps:\n    - file: {path: /etc/gone, state: absent}\n    - file: {path: /etc/a.conf, content: "alpha\\n"}\n`,
    );
    const r = await runPlaybook(inventory(), pb, opts(true));
    expect(r.hosts[0]).toMatchObject({ status: 'ok', roundTrips: 1 });
    expect(existsSync(join(dir, 'var/lib/ramster-provision'))).toBe(false);
  });

  it('the benchmark playbook (test/bench/ours.yaml): a first converge is 3 round trips per host (read, lock, every write with the unlock), a no-op apply 1, a plan 1', async () => {
    const hosts = ['n0', 'n1'];
    for (const h of hosts) {
      mkdirSync(join(dir, h, 'etc'), { recursive: true });
      writeFileSync(join(dir, h, 'etc/os-release'), 'ID=debian\nVERSION_ID="12"\n');
    }
    const inv = loadInventoryText(
      join(dir, 'bench-inv.yaml'),
      `all:\n  children:\n    lab:\n      ramster: {cluster: ramster, topology: one-way}\n      hosts:\n` +
        hosts
          .map(
            (h, i) =>
              `        ${h}: {connection: local, root: ${join(dir, h)}, number: ${i}, hostname: system${i + 1}, cluster_address: 10.0.0.${i + 1}}\n`,
          )
          .join(''),
    );
    const pb = await loadPlaybook(join(process.cwd(), 'test/bench/ours.yaml'));
    const trips = (r: RunResult) => r.hosts.map((h) => [h.status, h.roundTrips]);
    expect(trips(await runPlaybook(inv, pb, { ...opts(true), forks: 2 }))).toEqual([
      ['changed', 3],
      ['changed', 3],
    ]);
    expect(trips(await runPlaybook(inv, pb, { ...opts(true), forks: 2 }))).toEqual([
      ['ok', 1],
      ['ok', 1],
    ]);
    expect(trips(await runPlaybook(inv, pb, { ...opts(false), forks: 2 }))).toEqual([
      ['ok', 1],
      ['ok', 1],
    ]);
  });

  it('a no-op apply with a handler pending takes the lock and fires it', async () => {
    const inv = inventory();
    const pb = loadPlaybookText(
      join(dir, 'pb.yaml'),
      `
- name: files
  hosts: all
  steps:
    - {name: one, file: {path: /etc/one, content: "1\\n"}, notify: [say]}
  handlers:
    - {name: say, command: {cmd: 'echo said >> "$ROOT/said"'}}
`,
    );
    await runPlaybook(inv, pb, opts(true));
    writeFileSync(join(dir, PENDING_PATH), JSON.stringify({ files: ['say'] })); // a run died before its handler
    const r = await runPlaybook(inv, pb, opts(true));
    expect(r.hosts[0].steps.map((s) => [s.step, s.status])).toEqual([
      ['one', 'ok'],
      ['say', 'changed'],
    ]);
    expect(readFileSync(join(dir, 'said'), 'utf8')).toBe('said\nsaid\n');
    expect(existsSync(join(dir, PENDING_PATH))).toBe(false);
    expect(serial()).toBe('2');
    // read + lock + handler + the pending file removed with the unlock
    expect(r.hosts[0].roundTrips).toBe(1 + 1 + 1 + 1);
    expect(existsSync(join(dir, LOCK_PATH))).toBe(false);
  });

  it('a read-only check between file steps costs its own round trip only', async () => {
    const inv = loadInventoryText(join(dir, 'inv.yaml'), `all:\n  hosts:\n    h: {connection: local, root: ${dir}}\n`);
    const pb = loadPlaybookText(
      join(dir, 'pb.yaml'),
      `
- name: files
  hosts: all
  steps:
    - {name: one, file: {path: /etc/one, content: "1\\n"}}
    - {name: once, command: {cmd: "touch /nowhere", creates: /etc/one}}
    - {name: two, file: {path: /etc/two, content: "2\\n"}}
`,
    );
    await runPlaybook(inv, pb, opts(true));
    const again = await runPlaybook(inv, pb, opts(true));
    expect(again.totals.changed).toBe(0);
    expect(again.hosts[0].roundTrips).toBe(1 + 1);
  });
});
