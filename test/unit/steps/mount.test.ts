import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { editFstab, mountStep } from '../../../src/steps/mount.ts';
import { execa } from 'execa';
import { LocalTransport } from '../../../src/transport/local.ts';
import type { ExecOptions, ExecResult, Transport } from '../../../src/transport/types.ts';
import { expectConverges, makeCtx, snapshot, tempRoot } from './helpers.ts';

let root: string;
let cleanup: () => Promise<void>;
let t: LocalTransport;
const ctx = (apply: boolean) => makeCtx(t, apply);
const fstab = () => readFile(join(root, 'etc/fstab'), 'utf8');
const ORIGINAL =
  '# /etc/fstab: static file system information.\nUUID=abc  /      ext4   errors=remount-ro 0  1\n/dev/sr0   /media/cdrom0 udf,iso9660 user,noauto 0 0\n';
const note = () => `mount state not managed: local:${root} is an image, not a live host`;
const configfs = { path: '/sys/kernel/config', src: 'configfs', fstype: 'configfs' };

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempRoot());
  t = new LocalTransport(root);
  await mkdir(join(root, 'etc'));
  await writeFile(join(root, 'etc/fstab'), ORIGINAL);
});
afterEach(() => cleanup());

describe('mount step on a folder target (fstab only)', () => {
  it('appends the entry, notes the mounted part as skipped, then is no change with the note as skipped', async () => {
    const { dry, again } = await expectConverges(mountStep, configfs, ctx, root);
    expect(dry.action).toBe('update');
    expect(dry.summary).toBe(`update /etc/fstab (content) (${note()})`);
    expect(dry.diff).toContain('+configfs /sys/kernel/config configfs defaults 0 0');
    expect(await fstab()).toBe(`${ORIGINAL}configfs /sys/kernel/config configfs defaults 0 0\n`);
    expect(again).toEqual({
      action: 'none',
      summary: `/sys/kernel/config mounted in /etc/fstab (${note()})`,
      skipped: note(),
    });
  });

  it('replaces a differing entry in place, keeping every other line byte-identical', async () => {
    const { dry } = await expectConverges(
      mountStep,
      { path: '/media/cdrom0/', src: '/dev/sr0', fstype: 'udf,iso9660', opts: 'ro,noauto', state: 'present' },
      ctx,
      root,
    );
    expect(dry.summary).toBe('update /etc/fstab (content)');
    expect(dry.skipped).toBeUndefined();
    expect(await fstab()).toBe(
      '# /etc/fstab: static file system information.\nUUID=abc  /      ext4   errors=remount-ro 0  1\n/dev/sr0 /media/cdrom0 udf,iso9660 ro,noauto 0 0\n',
    );
  });

  it('leaves an equal entry alone even when spaced differently', async () => {
    const c = await mountStep.checkApply(
      { path: '/', src: 'UUID=abc', fstype: 'ext4', opts: 'errors=remount-ro', passno: 1, state: 'present' },
      ctx(true),
    );
    expect(c).toEqual({ action: 'none', summary: '/ present' });
    expect(await fstab()).toBe(ORIGINAL);
  });

  it('absent removes the entry (mount part skipped); unmounted leaves fstab alone', async () => {
    expect((await mountStep.checkApply({ path: '/media/cdrom0', state: 'unmounted' }, ctx(true))).skipped).toBe(note());
    expect(await fstab()).toBe(ORIGINAL);
    const { dry } = await expectConverges(mountStep, { path: '/media/cdrom0', state: 'absent' }, ctx, root);
    expect(dry.summary).toBe(`update /etc/fstab (content) (${note()})`);
    expect(await fstab()).toBe(
      '# /etc/fstab: static file system information.\nUUID=abc  /      ext4   errors=remount-ro 0  1\n',
    );
  });

  it('creates a missing fstab for present, and leaves it missing for absent', async () => {
    const { dir: empty, cleanup: done } = await tempRoot();
    try {
      t = new LocalTransport(empty);
      const before = await snapshot(empty);
      expect((await mountStep.checkApply({ path: '/data', state: 'absent' }, ctx(true))).action).toBe('none');
      expect(await snapshot(empty)).toEqual(before);
      const { dry } = await expectConverges(
        mountStep,
        { path: '/data', src: 'LABEL=data', fstype: 'xfs', state: 'present' },
        ctx,
        empty,
      );
      expect(dry.action).toBe('create');
      expect(await readFile(join(empty, 'etc/fstab'), 'utf8')).toBe('LABEL=data /data xfs defaults 0 0\n');
    } finally {
      await done();
    }
  });

  it('requires src and fstype for mounted and present', async () => {
    await expect(mountStep.checkApply({ path: '/x' }, ctx(false))).rejects.toThrow(
      'mount /x: src and fstype are required for state mounted',
    );
  });
});

describe('editFstab', () => {
  it('escapes blanks in fields and matches escaped mount points', () => {
    const entry = ['/dev/sdb1', '/mnt/my\\040disk', 'ext4', 'defaults', '0', '2'];
    const added = editFstab('a b c d 0 0', '/mnt/my disk', entry);
    expect(added).toBe('a b c d 0 0\n/dev/sdb1 /mnt/my\\040disk ext4 defaults 0 2\n');
    expect(editFstab(added, '/mnt/my disk', undefined)).toBe('a b c d 0 0\n');
  });

  it('drops later duplicates of the same mount point, which would shadow the entry', () => {
    expect(
      editFstab('x /m ext4 defaults 0 0\n# c\ny /m xfs defaults 0 0\n', '/m', [
        'z',
        '/m',
        'ext4',
        'defaults',
        '0',
        '0',
      ]),
    ).toBe('z /m ext4 defaults 0 0\n# c\n');
  });
});

/** A real mount namespace of this machine with an overlay over /etc: the mount step runs
 *  as on a live host (root ''), mounting for real, while the machine's /etc/fstab and mount
 *  table stay untouched. Not a fake: every command runs, only inside the namespace. */
class NamespaceTransport implements Transport {
  readonly kind = 'local' as const;
  readonly root = '';
  readonly target = 'mount-namespace';
  roundTrips = 0;
  private constructor(private readonly holder: ChildProcess) {}

  static async start(work: string): Promise<NamespaceTransport> {
    const holder = spawn('unshare', ['-m', '--propagation', 'private', 'sleep', '600'], { stdio: 'ignore' });
    const ns = new NamespaceTransport(holder);
    const self = await readlink('/proc/self/ns/mnt');
    for (let i = 0; i < 100 && (await readlink(`/proc/${holder.pid}/ns/mnt`).catch(() => self)) === self; i++)
      await new Promise((r) => setTimeout(r, 20));
    await mkdir(join(work, 'upper'));
    await mkdir(join(work, 'work'));
    const r = await ns.exec(
      `mount -t overlay overlay -o lowerdir=/etc,upperdir=${work}/upper,workdir=${work}/work /etc`,
    );
    if (r.code !== 0) throw new Error(`overlay on /etc failed: ${r.stderr}`);
    return ns;
  }

  async exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.roundTrips++;
    const r = await execa('nsenter', ['-t', String(this.holder.pid), '-m', 'sh', '-c', script], {
      input: opts.stdin,
      timeout: opts.timeoutMs,
      reject: false,
      stripFinalNewline: false,
    });
    return { code: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  }

  async close(): Promise<void> {
    this.holder.kill(); // the namespace and its mounts go with the process holding it
  }
}

describe('mount step on a live host (a private mount namespace)', () => {
  let work: string;
  let done: () => Promise<void>;
  let ns: NamespaceTransport;
  let mnt: string;
  const live = (apply: boolean) => makeCtx(ns, apply);
  const mountLine = async () => (await ns.exec(`grep ' ${mnt} ' /proc/self/mounts || true`)).stdout.trim();

  beforeEach(async () => {
    ({ dir: work, cleanup: done } = await tempRoot('rp-mountns-'));
    ns = await NamespaceTransport.start(work);
    mnt = join(work, 'mnt');
  });
  afterEach(async () => {
    await ns.close();
    await done();
  });

  it('adds the fstab entry and mounts, remounts when options change, unmounts, removes', async () => {
    const args = { path: mnt, src: 'ramster-test', fstype: 'tmpfs', opts: 'size=1m' };
    const { dry } = await expectConverges(mountStep, args, live, join(work, 'upper'));
    expect(dry).toMatchObject({ action: 'update', summary: `update /etc/fstab (content); mount ${mnt}` });
    expect(await mountLine()).toMatch(/^ramster-test \S+ tmpfs rw,.*size=1024k/);
    expect((await ns.exec('tail -n1 /etc/fstab')).stdout).toBe(`ramster-test ${mnt} tmpfs size=1m 0 0\n`);

    const remount = await mountStep.checkApply({ ...args, opts: 'size=2m' }, live(true));
    expect(remount.summary).toBe(`update /etc/fstab (content); remount ${mnt}`);
    expect(await mountLine()).toMatch(/size=2048k/);

    expect(await mountStep.checkApply({ path: mnt, state: 'unmounted' }, live(false))).toEqual({
      action: 'update',
      summary: `unmount ${mnt}`,
    });
    expect(await mountLine()).not.toBe('');
    expect((await mountStep.checkApply({ path: mnt, state: 'unmounted' }, live(true))).action).toBe('update');
    expect(await mountLine()).toBe('');
    expect((await mountStep.checkApply({ path: mnt, state: 'unmounted' }, live(true))).action).toBe('none');

    expect((await mountStep.checkApply({ path: mnt, state: 'absent' }, live(true))).summary).toBe(
      'update /etc/fstab (content)',
    );
    expect((await ns.exec('cat /etc/fstab')).stdout).not.toContain(mnt);
    // The machine's own fstab never saw the entry.
    expect(await readFile('/etc/fstab', 'utf8')).not.toContain(mnt);
  });
});
