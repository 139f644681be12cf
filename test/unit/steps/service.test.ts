import { lstat, mkdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serviceStep } from '../../../src/steps/service.ts';
import { LocalTransport } from '../../../src/transport/local.ts';
import { expectConverges, makeCtx, snapshot, tempRoot } from './helpers.ts';

// A folder target with a unit file: enablement goes through the real `systemctl --root`,
// which edits the folder's wants symlinks without a running systemd.
let root: string;
let cleanup: () => Promise<void>;
let t: LocalTransport;
const ctx = (apply: boolean) => makeCtx(t, apply);
const wants = () => join(root, 'etc/systemd/system/multi-user.target.wants/ramster-demo.service');
const FOLDER_NOTE = () => `state started not managed: local:${root} is an image, not a live host (no running init)`;

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempRoot());
  t = new LocalTransport(root);
  await mkdir(join(root, 'etc/systemd/system'), { recursive: true });
  await writeFile(
    join(root, 'etc/systemd/system/ramster-demo.service'),
    '[Unit]\nDescription=demo\n[Service]\nType=oneshot\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n',
  );
});
afterEach(() => cleanup());

describe('service step (systemd, folder target)', () => {
  it('enables with systemctl --root: the first apply creates the wants symlink, the second is no change', async () => {
    const { dry, again } = await expectConverges(
      serviceStep,
      { name: 'ramster-demo.service', enabled: true },
      ctx,
      root,
    );
    expect(dry).toEqual({ action: 'update', summary: 'service ramster-demo.service: enable' });
    expect((await lstat(wants())).isSymbolicLink()).toBe(true);
    expect(await readlink(wants())).toBe('/etc/systemd/system/ramster-demo.service');
    expect(again.summary).toBe('service ramster-demo.service enabled');
  });

  it('disables again', async () => {
    await serviceStep.checkApply({ name: 'ramster-demo', enabled: true }, ctx(true));
    const { dry } = await expectConverges(serviceStep, { name: 'ramster-demo', enabled: false }, ctx, root);
    expect(dry.summary).toBe('service ramster-demo: disable');
    await expect(lstat(wants())).rejects.toThrow(/ENOENT/);
  });

  it('reports the running state as skipped with a note, enabling anyway; the start happens when the image boots', async () => {
    const first = await serviceStep.checkApply({ name: 'ramster-demo', enabled: true, state: 'started' }, ctx(true));
    expect(first).toEqual({
      action: 'update',
      summary: `service ramster-demo: enable (${FOLDER_NOTE()})`,
      rebootRequired: true,
    });
    const second = await serviceStep.checkApply({ name: 'ramster-demo', enabled: true, state: 'started' }, ctx(true));
    expect(second).toEqual({
      action: 'none',
      summary: `service ramster-demo enabled (${FOLDER_NOTE()})`,
      skipped: FOLDER_NOTE(),
    });
  });

  it('a missing unit fails on apply, and is a conditional change in a dry run', async () => {
    const before = await snapshot(root);
    const dry = await serviceStep.checkApply({ name: 'not-there', enabled: true }, ctx(false));
    expect(dry).toMatchObject({
      action: 'update',
      conditional: 'not-there is not installed yet; assumes an earlier step installs it',
    });
    await expect(serviceStep.checkApply({ name: 'not-there', enabled: true }, ctx(true))).rejects.toThrow(
      'service not-there not found on node0',
    );
    expect((await serviceStep.checkApply({ name: 'not-there', enabled: false }, ctx(true))).action).toBe('none');
    expect(await snapshot(root)).toEqual(before);
  });

  it('refuses to enable a masked unit; disabled wanted is no change', async () => {
    // Vendor units live in /usr/lib; masking links /etc/systemd/system/<unit> to /dev/null.
    await mkdir(join(root, 'usr/lib/systemd/system'), { recursive: true });
    await writeFile(
      join(root, 'usr/lib/systemd/system/vendor.service'),
      '[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n',
    );
    expect((await t.exec(`systemctl --root="$ROOT" mask vendor.service`)).code).toBe(0);
    await expect(serviceStep.checkApply({ name: 'vendor.service', enabled: true }, ctx(false))).rejects.toThrow(
      /vendor.service is masked; unmask it/,
    );
    expect((await serviceStep.checkApply({ name: 'vendor.service', enabled: false }, ctx(true))).action).toBe('none');
  });
});

describe('service step (SysV, folder target)', () => {
  const sysv = (apply: boolean, os_family: 'debian' | 'redhat' = 'debian') =>
    makeCtx(t, apply, { facts: { ...makeCtx(t, apply).facts, init_system: 'sysvinit', os_family } });

  it('reads enablement from the rc?.d start links of either layout', async () => {
    await mkdir(join(root, 'etc/init.d'), { recursive: true });
    await writeFile(join(root, 'etc/init.d/ramster'), '#!/bin/sh\n');
    expect(await serviceStep.checkApply({ name: 'ramster', enabled: true }, sysv(false))).toEqual({
      action: 'update',
      summary: 'service ramster: enable',
    });
    await mkdir(join(root, 'etc/rc.d/rc3.d'), { recursive: true }); // Red Hat layout
    await writeFile(join(root, 'etc/rc.d/rc3.d/S20ramster'), '');
    expect((await serviceStep.checkApply({ name: 'ramster', enabled: true }, sysv(false, 'redhat'))).action).toBe(
      'none',
    );
    expect(await serviceStep.checkApply({ name: 'ramster', enabled: false }, sysv(false, 'redhat'))).toEqual({
      action: 'update',
      summary: 'service ramster: disable',
    });
    expect((await serviceStep.checkApply({ name: 'other', enabled: true }, sysv(false))).conditional).toMatch(
      /other is not installed yet/,
    );
  });
});
