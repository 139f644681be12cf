import { chmod, chown, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileStep } from '../../../src/steps/file.ts';
import { LocalTransport } from '../../../src/transport/local.ts';
import { expectConverges, makeCtx, snapshot, tempRoot } from './helpers.ts';

let root: string;
let cleanup: () => Promise<void>;
let t: LocalTransport;
const ctx = (apply: boolean) => makeCtx(t, apply, { baseDir: join(root, 'playbook') });

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempRoot());
  t = new LocalTransport(root);
});
afterEach(() => cleanup());

describe('file step', () => {
  it('creates a file with mode, dry run first, then converges', async () => {
    const { dry } = await expectConverges(
      fileStep,
      { path: '/etc/demo.conf', content: 'a=1\n', mode: '0600' },
      ctx,
      root,
    );
    expect(dry).toMatchObject({ action: 'create', summary: 'create /etc/demo.conf (mode 0600)' });
    expect(dry.diff).toContain('+a=1');
    expect(await readFile(join(root, 'etc/demo.conf'), 'utf8')).toBe('a=1\n');
    expect((await stat(join(root, 'etc/demo.conf'))).mode & 0o7777).toBe(0o600);
  });

  it('changes only the mode and owner of an existing file with the right content', async () => {
    await mkdir(join(root, 'etc'));
    await writeFile(join(root, 'etc/demo.conf'), 'a=1\n');
    await chmod(join(root, 'etc/demo.conf'), 0o644);
    const { dry } = await expectConverges(
      fileStep,
      { path: '/etc/demo.conf', content: 'a=1\n', mode: '0640', owner: 'nobody', group: 'nogroup' },
      ctx,
      root,
    );
    expect(dry.summary).toBe('update /etc/demo.conf (mode 0644 -> 0640, owner root -> nobody, group root -> nogroup)');
    expect(dry.diff).toBeUndefined();
    const st = await stat(join(root, 'etc/demo.conf'));
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o640, 65534, 65534]);
  });

  it('copies src relative to the playbook folder and keeps a backup of the old file', async () => {
    await mkdir(join(root, 'playbook'));
    await writeFile(join(root, 'playbook/motd'), 'new\n');
    await mkdir(join(root, 'etc'));
    await writeFile(join(root, 'etc/motd'), 'old\n');
    await chown(join(root, 'etc/motd'), 0, 0);
    await expectConverges(fileStep, { path: '/etc/motd', src: 'motd', backup: true }, ctx, join(root, 'etc'));
    const names = await readdir(join(root, 'etc'));
    const backup = names.find((n) => /^motd\.\d{14}~$/.test(n));
    expect(backup, names.join(',')).toBeDefined();
    expect(await readFile(join(root, 'etc', backup!), 'utf8')).toBe('old\n');
    expect(await readFile(join(root, 'etc/motd'), 'utf8')).toBe('new\n');
  });

  it('deletes with state absent', async () => {
    await mkdir(join(root, 'etc'));
    await writeFile(join(root, 'etc/gone'), 'x\n');
    const { dry } = await expectConverges(fileStep, { path: '/etc/gone', state: 'absent' }, ctx, root);
    expect(dry).toMatchObject({ action: 'delete', summary: 'delete /etc/gone' });
    await expect(stat(join(root, 'etc/gone'))).rejects.toThrow(/ENOENT/);
  });

  it('leaves the old file byte-identical when validate rejects the new content', async () => {
    await mkdir(join(root, 'etc'));
    await writeFile(join(root, 'etc/v.conf'), 'good\n');
    const before = await snapshot(root);
    await expect(
      fileStep.checkApply({ path: '/etc/v.conf', content: 'bad\n', validate: 'grep -q good %s' }, ctx(true)),
    ).rejects.toThrow(/validation failed/);
    expect(await snapshot(root)).toEqual(before);
  });

  it('hides content of a sensitive file', async () => {
    const c = await fileStep.checkApply({ path: '/etc/secret', content: 'pw=hunter2\n', sensitive: true }, ctx(false));
    expect(c).toMatchObject({ action: 'create', sensitive: true });
    expect(JSON.stringify(c)).not.toContain('hunter2');
  });
});
