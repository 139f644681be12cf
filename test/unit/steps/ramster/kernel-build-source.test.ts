import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareSource } from '../../../../src/steps/ramster/kernel-source.ts';
import { LocalTransport } from '../../../../src/transport/local.ts';

// Source preparation on a real (local) build host: a git repository reached over file://,
// a tarball, and a plain tree. Trees here are tiny stand-ins (a Makefile and a C file).
const sh = (script: string, cwd?: string) => execFileSync('sh', ['-c', script], { encoding: 'utf8', cwd });
const git = (repo: string, cmd: string) =>
  sh(`git -c user.name=t -c user.email=t@example.org -c init.defaultBranch=master ${cmd}`, repo);

describe('kernel sources on the build host', () => {
  const work = mkdtempSync(join(tmpdir(), 'rp-kernel-source-'));
  const cacheDir = join(work, 'cache');
  const t = new LocalTransport();
  afterAll(() => sh(`rm -rf ${work}`));

  const tree = (dir: string, sublevel: number) => {
    mkdirSync(join(dir, 'kernel'), { recursive: true });
    writeFileSync(join(dir, 'Makefile'), `VERSION = 3\nPATCHLEVEL = 10\nSUBLEVEL = ${sublevel}\n`);
    writeFileSync(join(dir, 'kernel/fork.c'), 'int fork;\n');
  };

  it('git: resolves a tag with ls-remote, fetches it shallowly once, unpacks it into its own tree; a dry run only plans', async () => {
    const repo = join(work, 'linux.git');
    tree(repo, 107);
    git(
      repo,
      'init -q . && git add -A && git -c user.name=t -c user.email=t@example.org commit -q -m 3.10.107 && git tag v3.10.107',
    );
    const rev107 = git(repo, 'rev-parse HEAD').trim();
    const src = { kind: 'git' as const, url: `file://${repo}`, ref: 'v3.10.107' };

    const dry = await prepareSource(t, src, { cacheDir, apply: false, revision: true });
    expect(dry).toEqual({
      pending: `fetch file://${repo} v3.10.107 (${rev107.slice(0, 12)}) and unpack it into ${cacheDir}/src/git-${rev107}`,
    });
    expect(existsSync(cacheDir)).toBe(false);

    const applied = await prepareSource(t, src, { cacheDir, apply: true, revision: true });
    expect(applied).toEqual({
      tree: `${cacheDir}/src/git-${rev107}`,
      revision: `git ${rev107}`,
      did: `fetched file://${repo} v3.10.107 (${rev107.slice(0, 12)}) into ${cacheDir}/src/git-${rev107}`,
    });
    expect(readFileSync(join(applied.tree!, 'Makefile'), 'utf8')).toContain('SUBLEVEL = 107');
    expect(await prepareSource(t, src, { cacheDir, apply: false, revision: true })).toEqual({
      tree: applied.tree,
      revision: applied.revision,
    });

    // A branch that moves is resolved again on every run.
    writeFileSync(join(repo, 'Makefile'), 'VERSION = 3\nPATCHLEVEL = 10\nSUBLEVEL = 108\n');
    git(repo, 'commit -q -am 3.10.108');
    const rev108 = git(repo, 'rev-parse HEAD').trim();
    const branch = await prepareSource(t, { ...src, ref: 'master' }, { cacheDir, apply: true, revision: true });
    expect(branch.revision).toBe(`git ${rev108}`);
    expect(readFileSync(join(branch.tree!, 'Makefile'), 'utf8')).toContain('SUBLEVEL = 108');
    await expect(prepareSource(t, { ...src, ref: 'v9.9' }, { cacheDir, apply: false, revision: true })).rejects.toThrow(
      `ref v9.9 not found at file://${repo} (git ls-remote)`,
    );
  });

  it('tarball: unpacked once, identified by its sha256', async () => {
    const dir = join(work, 'linux-3.10.108');
    tree(dir, 108);
    sh(`tar -cJf ${work}/linux-3.10.108.tar.xz -C ${work} linux-3.10.108`);
    const sum = sh(`sha256sum < ${work}/linux-3.10.108.tar.xz | cut -d' ' -f1`).trim();
    const src = { kind: 'tarball' as const, location: `${work}/linux-3.10.108.tar.xz` };
    expect(await prepareSource(t, src, { cacheDir, apply: false, revision: true })).toEqual({
      pending: `unpack ${work}/linux-3.10.108.tar.xz into ${cacheDir}/src/tar-${sum.slice(0, 16)}`,
    });
    const applied = await prepareSource(t, src, { cacheDir, apply: true, revision: true });
    expect(applied).toEqual({
      tree: `${cacheDir}/src/tar-${sum.slice(0, 16)}`,
      revision: `tarball ${sum}`,
      did: `unpacked ${work}/linux-3.10.108.tar.xz into ${cacheDir}/src/tar-${sum.slice(0, 16)}`,
    });
    expect(readFileSync(join(applied.tree!, 'kernel/fork.c'), 'utf8')).toBe('int fork;\n');
    expect(await prepareSource(t, src, { cacheDir, apply: true, revision: true })).toEqual({
      tree: applied.tree,
      revision: applied.revision,
    });
  });

  it('path: the revision follows source edits, not the .config or build products', async () => {
    const dir = join(work, 'linux-path');
    tree(dir, 108);
    const rev = async () =>
      (await prepareSource(t, { kind: 'path', path: dir }, { cacheDir, apply: false, revision: true })).revision;
    const first = await rev();
    expect(first).toMatch(/^path files makefile=[0-9a-f]{64} sources=[0-9a-f]{64}$/);
    writeFileSync(join(dir, '.config'), 'CONFIG_RAMSTER=y\n');
    writeFileSync(join(dir, 'kernel/fork.o'), 'object');
    mkdirSync(join(dir, 'include/generated'), { recursive: true });
    writeFileSync(join(dir, 'include/generated/autoconf.h'), '#define X 1\n');
    expect(await rev()).toBe(first);
    writeFileSync(join(dir, 'kernel/fork.c'), 'int fork2;\n');
    expect(await rev()).not.toBe(first);
    utimesSync(join(dir, 'kernel/fork.c'), new Date(0), new Date(0));
    const edited = await rev();

    // A git work tree: HEAD and the hash of its tracked changes.
    git(
      dir,
      'init -q . && printf "*.o\\n.config\\ninclude/generated/\\n" > .gitignore && git add -A && git -c user.name=t -c user.email=t@example.org commit -q -m x',
    );
    const head = git(dir, 'rev-parse HEAD').trim();
    const clean = await rev();
    expect(clean).toMatch(new RegExp(`^path git ${head} [0-9a-f]{64} [0-9a-f]{7,}$`));
    expect(clean).not.toBe(edited);
    writeFileSync(join(dir, 'kernel/fork.o'), 'rebuilt object');
    expect(await rev()).toBe(clean);
    writeFileSync(join(dir, 'kernel/fork.c'), 'int fork3;\n');
    expect(await rev()).toMatch(new RegExp(`^path git ${head} [0-9a-f]{64} [0-9a-f]{7,}-dirty$`));
    await expect(
      prepareSource(t, { kind: 'path', path: join(work, 'nothing') }, { cacheDir, apply: false, revision: true }),
    ).rejects.toThrow(`no kernel tree at ${join(work, 'nothing')} (it has no Makefile)`);
  });
});
