import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lineInFileStep } from '../../../src/steps/lineinfile.ts';
import { LocalTransport } from '../../../src/transport/local.ts';
import { expectConverges, makeCtx, snapshot, tempRoot } from './helpers.ts';

let root: string;
let cleanup: () => Promise<void>;
let t: LocalTransport;
const ctx = (apply: boolean) => makeCtx(t, apply);
const file = () => join(root, 'etc/default/grub');
const read = () => readFile(file(), 'utf8');
const ORIGINAL = 'GRUB_DEFAULT=0\r\n#GRUB_CMDLINE_LINUX="old"\nGRUB_CMDLINE_LINUX="quiet"\nGRUB_TIMEOUT=5';

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempRoot());
  t = new LocalTransport(root);
  await mkdir(join(root, 'etc/default'), { recursive: true });
  await writeFile(file(), ORIGINAL);
});
afterEach(() => cleanup());

describe('lineinfile step', () => {
  it('replaces the last line matching regexp, keeping its line ending and every other byte', async () => {
    const line = 'GRUB_CMDLINE_LINUX="quiet zcache ramster"';
    const { dry } = await expectConverges(
      lineInFileStep,
      { path: '/etc/default/grub', regexp: '^#?GRUB_CMDLINE_LINUX=', line },
      ctx,
      root,
    );
    expect(dry.summary).toBe('update /etc/default/grub (content): replace line 3');
    expect(await read()).toBe(`GRUB_DEFAULT=0\r\n#GRUB_CMDLINE_LINUX="old"\n${line}\nGRUB_TIMEOUT=5`);
  });

  it('appends when neither regexp nor the line is present (after a last line without newline)', async () => {
    const { dry } = await expectConverges(
      lineInFileStep,
      { path: '/etc/default/grub', regexp: '^GRUB_RECORDFAIL', line: 'GRUB_RECORDFAIL_TIMEOUT=5' },
      ctx,
      root,
    );
    expect(dry.summary).toContain('insert line');
    expect(await read()).toBe(`${ORIGINAL}\nGRUB_RECORDFAIL_TIMEOUT=5\n`);
  });

  it('is no change when regexp matches nothing but the exact line exists', async () => {
    const c = await lineInFileStep.checkApply(
      { path: '/etc/default/grub', regexp: '^NOPE', line: 'GRUB_TIMEOUT=5' },
      ctx(true),
    );
    expect(c.action).toBe('none');
    expect(await read()).toBe(ORIGINAL);
  });

  it('inserts after / before the last regex match, or at BOF', async () => {
    await lineInFileStep.checkApply(
      { path: '/etc/default/grub', line: 'AFTER=1', insertafter: '^GRUB_DEFAULT' },
      ctx(true),
    );
    await lineInFileStep.checkApply(
      { path: '/etc/default/grub', line: 'BEFORE=1', insertbefore: 'GRUB_CMDLINE_LINUX=' },
      ctx(true),
    );
    await lineInFileStep.checkApply({ path: '/etc/default/grub', line: '# top', insertbefore: 'BOF' }, ctx(true));
    expect(await read()).toBe(
      '# top\nGRUB_DEFAULT=0\r\nAFTER=1\n#GRUB_CMDLINE_LINUX="old"\nBEFORE=1\nGRUB_CMDLINE_LINUX="quiet"\nGRUB_TIMEOUT=5',
    );
  });

  it('removes every matching line with state absent', async () => {
    const { dry } = await expectConverges(
      lineInFileStep,
      { path: '/etc/default/grub', regexp: 'GRUB_CMDLINE_LINUX=', state: 'absent' },
      ctx,
      root,
    );
    expect(dry.summary).toContain('remove 2 line(s)');
    expect(await read()).toBe('GRUB_DEFAULT=0\r\nGRUB_TIMEOUT=5');
  });

  it('creates a missing file only with create: true', async () => {
    await expect(lineInFileStep.checkApply({ path: '/etc/modules', line: 'zcache' }, ctx(false))).rejects.toThrow(
      '/etc/modules does not exist; set create: true',
    );
    expect(
      (await lineInFileStep.checkApply({ path: '/etc/modules', line: 'zcache', state: 'absent' }, ctx(true))).action,
    ).toBe('none');
    const { dry } = await expectConverges(
      lineInFileStep,
      { path: '/etc/modules', line: 'zcache', create: true },
      ctx,
      root,
    );
    expect(dry.action).toBe('create');
    expect(await readFile(join(root, 'etc/modules'), 'utf8')).toBe('zcache\n');
  });

  it('reports an invalid regexp clearly', async () => {
    await expect(
      lineInFileStep.checkApply({ path: '/etc/default/grub', regexp: '(', line: 'x' }, ctx(false)),
    ).rejects.toThrow(/^regexp: invalid regular expression "\("/);
  });

  it('leaves the old file byte-identical when validate fails, and writes when it passes', async () => {
    const before = await snapshot(root);
    const validate = '! grep -q BROKEN %s';
    await expect(
      lineInFileStep.checkApply({ path: '/etc/default/grub', line: 'BROKEN', validate }, ctx(true)),
    ).rejects.toThrow(/validation failed/);
    expect(await snapshot(root)).toEqual(before);
    expect(
      (await lineInFileStep.checkApply({ path: '/etc/default/grub', line: 'FINE', validate }, ctx(true))).action,
    ).toBe('update');
    expect(await read()).toBe(`${ORIGINAL}\nFINE\n`);
  });
});
