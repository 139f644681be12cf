import { lstat, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Change, StepContext, StepType } from '../../../src/steps/types.ts';
import { parseFacts, type Facts } from '../../../src/transport/facts.ts';
import type { Transport } from '../../../src/transport/types.ts';
import { framesOf } from '../../helpers/frames.ts';

export async function tempRoot(prefix = 'rp-steps-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Facts of a Debian 12 systemd host, as gatherFacts would parse them. */
export function debianFacts(over: Partial<Facts> = {}): Facts {
  const f = parseFacts(
    framesOf(
      [
        ['arch', 'x86_64'],
        ['id', 'debian'],
        ['id_like', ''],
        ['version_id', '12'],
        ['kernel', '6.1.0-test'],
        ['init', 'systemd'],
        ['boot', 'grub2'],
        ['pm', 'apt-get'],
        ['hostname', 'node0'],
        ['boot_id', 'b0'],
        ['user', 'root'],
      ]
        .map(([name, value]) => `@${name}\n${value}\n`)
        .join(''),
    ),
  );
  return { ...f, ...over };
}

export function makeCtx(
  t: Transport,
  apply: boolean,
  opts: { vars?: Record<string, unknown>; baseDir?: string; facts?: Facts } = {},
): StepContext {
  return {
    t,
    facts: opts.facts ?? debianFacts(),
    apply,
    host: 'node0',
    vars: opts.vars ?? {},
    baseDir: opts.baseDir ?? '/nonexistent',
    log: () => {},
  };
}

/** Every path under `dir` with type, mode, owner and content (or link target): equal
 *  snapshots mean nothing on disk changed. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name);
      const st = await lstat(p);
      const meta = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      if (st.isSymbolicLink()) out[p] = `link ${meta} -> ${await readlink(p)}`;
      else if (st.isDirectory()) {
        out[p] = `dir ${meta}`;
        await walk(p);
      } else out[p] = `file ${meta} ${(await readFile(p)).toString('base64')}`;
    }
  };
  await walk(dir);
  return out;
}

/** The contract every step type must keep: the dry run changes nothing on disk and
 *  reports exactly the change the apply then makes; a second apply changes nothing. */
export async function expectConverges<A>(
  step: StepType<A>,
  args: A,
  ctx: (apply: boolean) => StepContext,
  watchDir: string,
): Promise<{ dry: Change; applied: Change; again: Change }> {
  const before = await snapshot(watchDir);
  const dry = await step.checkApply(args, ctx(false));
  expect(await snapshot(watchDir)).toEqual(before);
  expect(dry.action).not.toBe('none');
  const applied = await step.checkApply(args, ctx(true));
  expect(applied).toEqual(dry);
  expect(await snapshot(watchDir)).not.toEqual(before);
  const again = await step.checkApply(args, ctx(true));
  expect(again.action, again.summary).toBe('none');
  return { dry, applied, again };
}
