import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { blockInFileStep } from '../../../src/steps/blockinfile.ts';
import { LocalTransport } from '../../../src/transport/local.ts';
import { expectConverges, makeCtx, snapshot, tempRoot } from './helpers.ts';

let root: string;
let cleanup: () => Promise<void>;
let t: LocalTransport;
const ctx = (apply: boolean) => makeCtx(t, apply);
const rcLocal = () => join(root, 'etc/rc.local');
const read = () => readFile(rcLocal(), 'utf8');
// Odd bytes outside the block (CRLF, trailing spaces, tab) must survive every edit.
const ORIGINAL = '#!/bin/sh -e\r\n# keep   \nmodprobe zcache\t\nexit 0\n';

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempRoot());
  t = new LocalTransport(root);
  await mkdir(join(root, 'etc'));
  await writeFile(rcLocal(), ORIGINAL);
});
afterEach(() => cleanup());

describe('blockinfile step', () => {
  it('inserts at the end by default, dry run equals apply, then converges', async () => {
    const { dry } = await expectConverges(
      blockInFileStep,
      { path: '/etc/rc.local', block: 'echo 1 > /x\necho 2 > /y' },
      ctx,
      root,
    );
    expect(dry.summary).toBe('update /etc/rc.local (content): insert block "ramster-provision MANAGED BLOCK"');
    expect(await read()).toBe(
      `${ORIGINAL}# BEGIN ramster-provision MANAGED BLOCK\necho 1 > /x\necho 2 > /y\n# END ramster-provision MANAGED BLOCK\n`,
    );
  });

  it('inserts before the last line matching insertbefore, with a custom marker and comment prefix', async () => {
    await expectConverges(
      blockInFileStep,
      {
        path: '/etc/rc.local',
        block: 'swapon -a\n',
        insertbefore: '^exit 0',
        marker: 'ramster heartbeat',
        comment: '##',
      },
      ctx,
      root,
    );
    expect(await read()).toBe(
      '#!/bin/sh -e\r\n# keep   \nmodprobe zcache\t\n## BEGIN ramster heartbeat\nswapon -a\n## END ramster heartbeat\nexit 0\n',
    );
  });

  it('inserts after a regex match, or at BOF', async () => {
    await blockInFileStep.checkApply(
      { path: '/etc/rc.local', block: 'A', insertafter: 'zcache', marker: 'a' },
      ctx(true),
    );
    await blockInFileStep.checkApply(
      { path: '/etc/rc.local', block: 'B', insertbefore: 'BOF', marker: 'b' },
      ctx(true),
    );
    expect(await read()).toBe(
      '# BEGIN b\nB\n# END b\n#!/bin/sh -e\r\n# keep   \nmodprobe zcache\t\n# BEGIN a\nA\n# END a\nexit 0\n',
    );
  });

  it('replaces a changed block in place, keeping the rest byte-identical', async () => {
    await blockInFileStep.checkApply({ path: '/etc/rc.local', block: 'old\n', insertbefore: '^exit' }, ctx(true));
    const { dry } = await expectConverges(
      blockInFileStep,
      { path: '/etc/rc.local', block: 'new 1\nnew 2\n' },
      ctx,
      root,
    );
    expect(dry.summary).toContain('replace block');
    expect(dry.diff).toContain('-old');
    expect(await read()).toBe(
      '#!/bin/sh -e\r\n# keep   \nmodprobe zcache\t\n# BEGIN ramster-provision MANAGED BLOCK\nnew 1\nnew 2\n# END ramster-provision MANAGED BLOCK\nexit 0\n',
    );
  });

  it('removes the block with state absent, restoring the original bytes', async () => {
    await blockInFileStep.checkApply({ path: '/etc/rc.local', block: 'x', insertafter: 'keep' }, ctx(true));
    const { dry } = await expectConverges(blockInFileStep, { path: '/etc/rc.local', state: 'absent' }, ctx, root);
    expect(dry.summary).toContain('remove block');
    expect(await read()).toBe(ORIGINAL);
  });

  it('appends after a last line lacking its newline', async () => {
    await writeFile(rcLocal(), 'exit 0');
    await blockInFileStep.checkApply({ path: '/etc/rc.local', block: 'x' }, ctx(true));
    expect(await read()).toBe(
      'exit 0\n# BEGIN ramster-provision MANAGED BLOCK\nx\n# END ramster-provision MANAGED BLOCK\n',
    );
  });

  it('creates the file only with create: true; absent on a missing file is no change', async () => {
    await expect(blockInFileStep.checkApply({ path: '/etc/new.conf', block: 'x' }, ctx(false))).rejects.toThrow(
      '/etc/new.conf does not exist; set create: true',
    );
    expect((await blockInFileStep.checkApply({ path: '/etc/new.conf', state: 'absent' }, ctx(true))).action).toBe(
      'none',
    );
    const { dry } = await expectConverges(
      blockInFileStep,
      { path: '/etc/new.conf', block: 'x', create: true, mode: '0600' },
      ctx,
      root,
    );
    expect(dry.action).toBe('create');
  });

  it('refuses a BEGIN marker without END', async () => {
    await writeFile(rcLocal(), 'a\n# BEGIN ramster-provision MANAGED BLOCK\nb\n');
    await expect(blockInFileStep.checkApply({ path: '/etc/rc.local', block: 'x' }, ctx(false))).rejects.toThrow(
      '/etc/rc.local:2: "# BEGIN ramster-provision MANAGED BLOCK" has no "# END',
    );
  });

  it('leaves the old file byte-identical when validate fails', async () => {
    const before = await snapshot(root);
    await expect(
      blockInFileStep.checkApply({ path: '/etc/rc.local', block: 'x', validate: 'false' }, ctx(true)),
    ).rejects.toThrow(/validation failed/);
    expect(await snapshot(root)).toEqual(before);
  });
});
