/** Every sh script of the repo (found by its `#!/bin/sh` line, so a new one is checked too) is
 *  shellcheck-clean; the ones that run on target hosts are also free of bashisms (dash, busybox
 *  and old distributions' /bin/sh run them). Needs the shellcheck and devscripts packages
 *  (.ci/install-deps). */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = new URL('../../', import.meta.url).pathname;
const SKIP = new Set(['node_modules', '.git', 'dist', '.tmp']);

function shellScripts(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (SKIP.has(name)) return [];
    if (statSync(path).isDirectory()) return shellScripts(path);
    return readFileSync(path, 'latin1').startsWith('#!/bin/sh\n') ? [relative(repo, path)] : [];
  });
}

function tool(name: string, args: string[]) {
  const r = spawnSync(name, args, { cwd: repo, encoding: 'utf8' });
  if (r.error) throw new Error(`${name} is not installed (.ci/install-deps installs it): ${r.error.message}`);
  return r;
}

const scripts = shellScripts(repo);
const onTargets = scripts.filter((f) => f.startsWith('playbooks/'));

describe('shell scripts', () => {
  it('are found: the ramster-tools, the modern backend, the shutdown unit and CI', () => {
    expect(scripts).toEqual(
      expect.arrayContaining([
        'playbooks/files/ramster-tools/ramster-ctl',
        'playbooks/files/modern/ramster-modern',
        'playbooks/files/shutdown/ramster-swapoff.init',
        '.ci/run',
        '.ci/install-deps',
      ]),
    );
  });

  it.each(scripts)('%s is shellcheck-clean', (f) => {
    const r = tool('shellcheck', ['-s', 'sh', '-f', 'gcc', f]);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.each(onTargets)('%s has no bashisms and dash parses it', (f) => {
    const r = tool('checkbashisms', ['-p', '-x', f]);
    expect(r.stdout + r.stderr).toBe('');
    const dash = tool('dash', ['-n', f]);
    expect(dash.stderr).toBe('');
    expect(dash.status).toBe(0);
  });
});
