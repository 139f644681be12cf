import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commandStep } from '../../../src/steps/command.ts';
import { LocalTransport } from '../../../src/transport/local.ts';
import { expectConverges, makeCtx, snapshot, tempRoot } from './helpers.ts';

let root: string;
let cleanup: () => Promise<void>;
let t: LocalTransport;
const ctx = (apply: boolean) => makeCtx(t, apply);
const exists = (p: string) =>
  stat(join(root, p)).then(
    () => true,
    () => false,
  );

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempRoot());
  t = new LocalTransport(root);
});
afterEach(() => cleanup());

describe('command step', () => {
  it('creates: runs once, dry run never runs cmd, then skips', async () => {
    // LocalTransport runs commands in the root folder with $ROOT set.
    const args = {
      cmd: 'mkdir -p "$ROOT/var/lib/x" && echo built > "$ROOT/var/lib/x/stamp"',
      creates: '/var/lib/x/stamp',
    };
    const { dry, again } = await expectConverges(commandStep, args, ctx, root);
    expect(dry).toEqual({ action: 'run', summary: `run ${args.cmd}` });
    expect(await readFile(join(root, 'var/lib/x/stamp'), 'utf8')).toBe('built\n');
    expect(again.summary).toBe(`run ${args.cmd} skipped: /var/lib/x/stamp exists`);
  });

  it('removes: runs only while the path exists', async () => {
    await writeFile(join(root, 'old'), 'x');
    await expectConverges(commandStep, { cmd: 'rm "$ROOT/old"', removes: '/old' }, ctx, root);
    expect(await exists('old')).toBe(false);
  });

  it('unless: skips when the probe exits 0; the probe runs in a dry run, cmd does not', async () => {
    await mkdir(join(root, 'etc'));
    await writeFile(join(root, 'etc/modules'), '');
    const args = { cmd: 'echo zcache >> etc/modules', unless: 'grep -qx zcache etc/modules' };
    await expectConverges(commandStep, args, ctx, root);
    expect(await readFile(join(root, 'etc/modules'), 'utf8')).toBe('zcache\n');
  });

  it('onlyif: runs only when the probe exits 0', async () => {
    const args = { cmd: 'touch ran', onlyif: 'test -e trigger' };
    expect(await commandStep.checkApply(args, ctx(true))).toEqual({
      action: 'none',
      summary: 'run touch ran skipped: onlyif command failed',
    });
    expect(await exists('ran')).toBe(false);
    await writeFile(join(root, 'trigger'), '');
    expect((await commandStep.checkApply(args, ctx(true))).action).toBe('run');
    expect(await exists('ran')).toBe(true);
  });

  it('without conditions it runs (and reports run) every time; dry run changes nothing', async () => {
    const args = { cmd: 'echo x >> log' };
    const before = await snapshot(root);
    expect((await commandStep.checkApply(args, ctx(false))).action).toBe('run');
    expect(await snapshot(root)).toEqual(before);
    expect((await commandStep.checkApply(args, ctx(true))).action).toBe('run');
    expect((await commandStep.checkApply(args, ctx(true))).action).toBe('run');
    expect(await readFile(join(root, 'log'), 'utf8')).toBe('x\nx\n');
  });

  it('changed: false reports none after running', async () => {
    const c = await commandStep.checkApply({ cmd: 'echo y > out', changed: false }, ctx(true));
    expect(c).toEqual({ action: 'none', summary: 'run echo y > out (reports no change)' });
    expect(await readFile(join(root, 'out'), 'utf8')).toBe('y\n');
  });

  it('fails with the exit code and the tail of stderr', async () => {
    const cmd = 'for i in $(seq 1 20); do echo "err $i" >&2; done; exit 3';
    const err = await commandStep.checkApply({ cmd }, ctx(true)).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^command "for i in .*" failed \(exit 3\):\nerr 11\n/);
    expect((err as Error).message).toMatch(/err 20$/);
    expect((err as Error).message).not.toContain('err 10\n');
  });

  it('kills a command that outlives timeout_s, children included', async () => {
    const started = Date.now();
    await expect(
      commandStep.checkApply({ cmd: 'sleep 37.123 & sleep 30; touch late', timeout_s: 1 }, ctx(true)),
    ).rejects.toThrow('command "sleep 37.123 & sleep 30; touch late" timed out after 1 s and was killed');
    expect(Date.now() - started).toBeLessThan(30_000); // killed: not the 30 s the command runs
    expect(await exists('late')).toBe(false);
    // The background child is gone too (its unusual duration identifies it).
    const left = await new LocalTransport().exec('ps -eo args | grep -c "^sleep 37.123" || true');
    expect(left.stdout.trim()).toBe('0');
  });

  it('keeps a sensitive command out of summaries and errors', async () => {
    const c = await commandStep.checkApply({ cmd: 'echo hunter2 >/dev/null', sensitive: true }, ctx(false));
    expect(JSON.stringify(c)).not.toContain('hunter2');
    const err = await commandStep
      .checkApply({ cmd: 'echo hunter2 >&2; exit 1', sensitive: true }, ctx(true))
      .catch((e: Error) => e);
    expect((err as Error).message).toBe('sensitive command failed (exit 1)');
  });
});
