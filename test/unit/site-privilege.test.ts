import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/engine/result.ts';
import { seedDebianRoot, twoFolderNodes } from './steps/ramster/seed.ts';
import { CLI } from '../helpers/cli.ts';

// Privilege across the whole legacy site playbook, through the real CLI on two folder nodes:
// every installed file gets the mode and owner its step says; a file someone chmod/chowned
// afterwards is reported by `plan` (exit 2) with the old and new mode/owner, fixed by `apply`
// without touching its content, and the next plan has nothing to do.
let dir: string;
let inv: string;

const cli = (...args: string[]) => execa('node', [CLI, ...args], { reject: false, env: { NO_COLOR: '1' } });
const json = async (...args: string[]) => {
  const r = await cli(...args, '--json');
  return { code: r.exitCode, out: r.stdout, err: r.stderr, res: JSON.parse(r.stdout) as RunResult };
};
const st = (p: string) => {
  const s = statSync(join(dir, p));
  return { mode: (s.mode & 0o7777).toString(8).padStart(4, '0'), uid: s.uid, gid: s.gid };
};

/** What the site playbook installs, with the mode it must have (all root:root). */
const INSTALLED: [string, string][] = [
  ['a/etc/ramster.conf', '0644'],
  ['a/etc/default/ramster', '0644'],
  ['a/usr/sbin/ramster-ctl', '0755'],
  ['a/etc/rc.local', '0755'],
  ['a/etc/systemd/system/ramster.service', '0644'],
  ['a/etc/systemd/system/ramster-swapoff.service', '0644'],
  ['b/etc/ramster.conf', '0644'],
  ['b/usr/sbin/ramster-ctl', '0755'],
];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rp-site-priv-'));
  seedDebianRoot(join(dir, 'a'), 'system1');
  seedDebianRoot(join(dir, 'b'), 'system2');
  inv = join(dir, 'inv.yaml');
  writeFileSync(
    inv,
    twoFolderNodes(dir, '{cluster: ramster, topology: one-way, backend: legacy}', { vars: '{ramster_reboot: false}' }), // folders cannot reboot
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('site.yaml: modes and owners of the installed files', () => {
  it('installs each file with its mode, root:root', async () => {
    const r = await json('apply', '-i', inv);
    expect(r.code, r.err).toBe(0);
    for (const [p, mode] of INSTALLED) expect(st(p), p).toEqual({ mode, uid: 0, gid: 0 });
  });

  it('a file chmod/chowned afterwards: plan reports mode/owner (exit 2), apply fixes only that, then plan exit 0', async () => {
    const content = (p: string) => readFileSync(join(dir, p));
    const before = Object.fromEntries(INSTALLED.map(([p]) => [p, content(p)]));
    chmodSync(join(dir, 'a/etc/ramster.conf'), 0o666);
    chownSync(join(dir, 'a/etc/ramster.conf'), 65534, 65534);
    chmodSync(join(dir, 'a/usr/sbin/ramster-ctl'), 0o644);
    chownSync(join(dir, 'a/usr/sbin/ramster-ctl'), 65534, 0);
    chmodSync(join(dir, 'a/etc/default/ramster'), 0o600);
    chmodSync(join(dir, 'a/etc/rc.local'), 0o644);
    chownSync(join(dir, 'a/etc/systemd/system/ramster-swapoff.service'), 0, 65534);
    chmodSync(join(dir, 'b/usr/sbin/ramster-ctl'), 0o4755);

    const plan = await json('plan', '-i', inv);
    expect(plan.code, plan.err).toBe(2);
    const changed = (host: string) =>
      plan.res.hosts
        .find((h) => h.host === host)!
        .steps.filter((s) => s.status === 'changed')
        .map((s) => [s.type, s.change?.summary, s.change?.diff]);
    expect(changed('a')).toEqual([
      ['file', 'update /usr/sbin/ramster-ctl (mode 0644 -> 0755, owner nobody -> root)', undefined],
      [
        'ramster_conf',
        expect.stringMatching(
          /^update \/etc\/ramster\.conf \(mode 0666 -> 0644, owner nobody -> root, group nogroup -> root\); identical on 2 nodes/,
        ),
        undefined,
      ],
      ['ramster_defaults', 'update /etc/default/ramster (mode 0600 -> 0644)', undefined],
      [
        'ramster_rclocal',
        expect.stringMatching(/^update \/etc\/rc\.local \(mode 0644 -> 0755\): heartbeat block for node 0/),
        undefined,
      ],
      ['file', 'update /etc/systemd/system/ramster-swapoff.service (group nogroup -> root)', undefined],
    ]);
    expect(changed('b')).toEqual([['file', 'update /usr/sbin/ramster-ctl (mode 4755 -> 0755)', undefined]]);
    // The human plan on stderr (with --json) lists them too; the dry run changed nothing.
    expect(plan.err).toContain(
      'update /etc/ramster.conf (mode 0666 -> 0644, owner nobody -> root, group nogroup -> root)',
    );
    expect(st('a/etc/ramster.conf')).toEqual({ mode: '0666', uid: 65534, gid: 65534 });

    const apply = await json('apply', '-i', inv);
    expect(apply.code, apply.err).toBe(0);
    expect(apply.res.totals.changed).toBe(6);
    for (const [p, mode] of INSTALLED) {
      expect(st(p), p).toEqual({ mode, uid: 0, gid: 0 });
      expect(content(p).equals(before[p]), p).toBe(true);
    }
    const again = await cli('plan', '-i', inv);
    expect(again.exitCode, again.stdout).toBe(0);
  });
});
