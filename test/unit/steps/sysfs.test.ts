import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sysfsStep } from '../../../src/steps/sysfs.ts';
import { LocalTransport } from '../../../src/transport/local.ts';
import { expectConverges, makeCtx, snapshot, tempRoot } from './helpers.ts';

let root: string;
let cleanup: () => Promise<void>;
let t: LocalTransport;
const ctx = (apply: boolean) => makeCtx(t, apply);
const RAMSTER = '/sys/kernel/mm/ramster';

async function put(path: string, content: string) {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), content);
}

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempRoot());
  t = new LocalTransport(root);
});
afterEach(() => cleanup());

// Under the temporary root, the "sysfs" files are regular files standing in for the
// kernel's: they show the read / compare / write / read-back logic, not kernel behaviour.
describe('sysfs step on stand-in files', () => {
  it('writes a differing value, dry run equals apply, then converges', async () => {
    await put(`${RAMSTER}/pers_remotify_enable`, '0\n');
    const { dry } = await expectConverges(sysfsStep, { path: `${RAMSTER}/pers_remotify_enable`, value: 1 }, ctx, root);
    expect(dry).toEqual({ action: 'update', summary: `set ${RAMSTER}/pers_remotify_enable to "1" (was "0")` });
    expect(await readFile(join(root, RAMSTER, 'pers_remotify_enable'), 'utf8')).toBe('1\n');
  });

  it('match contains: a word of a multi-value file counts as set', async () => {
    await put(`${RAMSTER}/manual_node_up`, '0 1 \n');
    expect(
      await sysfsStep.checkApply({ path: `${RAMSTER}/manual_node_up`, value: '1', match: 'contains' }, ctx(true)),
    ).toEqual({
      action: 'none',
      summary: `${RAMSTER}/manual_node_up contains "1"`,
    });
    expect((await sysfsStep.checkApply({ path: `${RAMSTER}/manual_node_up`, value: '1' }, ctx(false))).action).toBe(
      'update',
    );
    expect(
      (await sysfsStep.checkApply({ path: `${RAMSTER}/manual_node_up`, value: '2', match: 'contains' }, ctx(false)))
        .action,
    ).toBe('update');
  });

  it('fails when the write is accepted but the value reads back unchanged', async () => {
    // /dev/null accepts every write and keeps nothing, like remote_target_nodenum when the
    // target node is not up yet.
    // (a device node of the folder: a symlink to the host's /dev/null resolves inside it)
    await mkdir(join(root, RAMSTER), { recursive: true });
    await execa('mknod', ['-m', '666', join(root, RAMSTER, 'remote_target_nodenum'), 'c', '1', '3']);
    await expect(
      sysfsStep.checkApply({ path: `${RAMSTER}/remote_target_nodenum`, value: 1 }, ctx(true)),
    ).rejects.toThrow(`the kernel accepted the write of "1" to ${RAMSTER}/remote_target_nodenum but it still reads ""`);
  });

  it('fails clearly when the kernel rejects the write', async () => {
    // A read-only kernel file (root cannot write 0444 /proc/sys entries); the write is refused.
    // Bind-mounted into the folder (a symlink to the host's file resolves inside the folder).
    const inRoot = join(root, 'proc/sys/kernel/osrelease');
    await put('/proc/sys/kernel/osrelease', '');
    await execa('mount', ['--bind', '/proc/sys/kernel/osrelease', inRoot]);
    try {
      const real = (await readFile('/proc/sys/kernel/osrelease', 'utf8')).trim();
      await expect(
        sysfsStep.checkApply({ path: '/proc/sys/kernel/osrelease', value: 'bogus' }, ctx(true)),
      ).rejects.toThrow(/^the kernel rejected writing "bogus" to \/proc\/sys\/kernel\/osrelease: /);
      expect((await readFile('/proc/sys/kernel/osrelease', 'utf8')).trim()).toBe(real);
    } finally {
      await execa('umount', [inRoot]);
    }
  });

  it('a missing file fails on apply and is a conditional change in a dry run', async () => {
    const before = await snapshot(root);
    const dry = await sysfsStep.checkApply({ path: `${RAMSTER}/eph_remotify_enable`, value: 1 }, ctx(false));
    expect(dry.action).toBe('update');
    expect(dry.conditional).toMatch(/does not exist .*; assumes an earlier step/);
    await expect(sysfsStep.checkApply({ path: `${RAMSTER}/eph_remotify_enable`, value: 1 }, ctx(true))).rejects.toThrow(
      `${RAMSTER}/eph_remotify_enable does not exist`,
    );
    expect(await snapshot(root)).toEqual(before);
  });

  it('sensitive hides both values', async () => {
    await put('/sys/secret', 'old-secret\n');
    const c = await sysfsStep.checkApply({ path: '/sys/secret', value: 'new-secret', sensitive: true }, ctx(true));
    expect(JSON.stringify(c)).not.toMatch(/secret"|old-secret|new-secret/);
    expect(c.summary).toBe('set /sys/secret to (sensitive) (was (sensitive))');
  });

  it('refuses paths outside /sys and /proc/sys', async () => {
    await expect(sysfsStep.checkApply({ path: '/etc/passwd', value: 'x' }, ctx(false))).rejects.toThrow(
      /must be under \/sys or \/proc\/sys/,
    );
  });
});

describe('sysfs step on the real kernel (dry run only)', () => {
  it('reads a /proc/sys value and plans a change without writing', async () => {
    const host = new LocalTransport();
    const ostype = (await readFile('/proc/sys/kernel/ostype', 'utf8')).trim();
    expect(
      await sysfsStep.checkApply({ path: '/proc/sys/kernel/ostype', value: ostype }, makeCtx(host, false)),
    ).toEqual({
      action: 'none',
      summary: `/proc/sys/kernel/ostype is "${ostype}"`,
    });
    expect(
      await sysfsStep.checkApply({ path: '/proc/sys/kernel/ostype', value: 'NotLinux' }, makeCtx(host, false)),
    ).toEqual({
      action: 'update',
      summary: `set /proc/sys/kernel/ostype to "NotLinux" (was "${ostype}")`,
    });
    expect((await readFile('/proc/sys/kernel/ostype', 'utf8')).trim()).toBe(ostype);
  });
});
