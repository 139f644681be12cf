/**
 * ramster-modern's dm-crypt functions, run by dash with stand-ins for the commands that would
 * touch the kernel (modprobe, blockdev, dmsetup): the key is 64 fresh random bytes for every
 * mapping, reaches dmsetup on its stdin only (never in an argument), and is never printed.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../src/guestimage/paths.ts';

const SCRIPT = readFileSync(join(REPO_ROOT, 'playbooks/files/modern/ramster-modern'), 'utf8');
/** The script's functions without its command dispatch at the end. */
const FUNCTIONS = SCRIPT.slice(0, SCRIPT.lastIndexOf('\ncase $' + '{1:-} in'));

describe('ramster-modern crypt_up', () => {
  let dir: string;
  const stub = (name: string, body: string) => {
    writeFileSync(join(dir, 'bin', name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, 'bin', name), 0o755);
  };
  const cryptUp = (n: number) =>
    spawnSync('dash', ['-c', `. "${dir}/functions.sh"; crypt_up /dev/fake-ns rp-test-crypt-${n} aes-xts-plain64`], {
      encoding: 'utf8',
      env: { PATH: `${dir}/bin:/usr/bin:/bin`, STUB_DIR: dir },
    });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rp-crypt-'));
    spawnSync('mkdir', ['-p', join(dir, 'bin')]);
    writeFileSync(join(dir, 'functions.sh'), FUNCTIONS);
    stub('modprobe', 'exit 0');
    stub('blockdev', '[ "$1" = --getsz ] && [ "$2" = /dev/fake-ns ] && echo 1572864');
    // records every call's arguments, and the table a `create` reads from its stdin
    stub('dmsetup', 'printf "%s\\n" "$*" >> "$STUB_DIR/argv"; [ "$1" = create ] && cat >> "$STUB_DIR/tables"; exit 0');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives dmsetup the table on stdin with a new 512-bit key each time; no argument and no output holds it', () => {
    const first = cryptUp(1);
    const second = cryptUp(2);
    expect(first.status, first.stderr).toBe(0);
    expect(second.status, second.stderr).toBe(0);
    const tables = readFileSync(join(dir, 'tables'), 'utf8').trim().split('\n');
    expect(tables).toHaveLength(2);
    const keys = tables.map((t) => {
      const m = /^0 1572864 crypt aes-xts-plain64 ([0-9a-f]{128}) 0 \/dev\/fake-ns 0 1 allow_discards$/.exec(t);
      expect(m, t).not.toBeNull();
      return m![1];
    });
    expect(keys[0]).not.toBe(keys[1]);
    expect(new Set(keys[0]).size).toBeGreaterThan(8);
    const argv = readFileSync(join(dir, 'argv'), 'utf8');
    expect(argv).toMatch(/^create rp-test-crypt-1$/m);
    for (const k of keys) {
      expect(argv.includes(k.slice(0, 16)), 'a key in an argument').toBe(false);
      expect((first.stdout + first.stderr + second.stdout + second.stderr).includes(k.slice(0, 16))).toBe(false);
    }
    expect(first.stdout).toMatch(
      /^ramster-modern: dm-crypt \/dev\/mapper\/rp-test-crypt-1 over \/dev\/fake-ns \(aes-xts-plain64, a new random key/m,
    );
  });

  it('refuses clearly without dmsetup or without dm-crypt', () => {
    rmSync(join(dir, 'bin', 'dmsetup'));
    const noTool = spawnSync(
      'dash',
      ['-c', `. "${dir}/functions.sh"; command() { return 1; }; crypt_up /dev/fake-ns rp-test-crypt-3 aes-xts-plain64`],
      { encoding: 'utf8', env: { PATH: `${dir}/bin:/usr/bin:/bin`, STUB_DIR: dir } },
    );
    expect(noTool.status).toBe(1);
    expect(noTool.stderr).toMatch(
      /dmsetup is missing: install it \(Debian: apt-get install dmsetup\), or set encryption: none/,
    );
    stub('modprobe', 'exit 1');
    const noModule = cryptUp(4);
    expect(noModule.status).toBe(1);
    expect(noModule.stderr).toMatch(/cannot load dm-crypt: .*CONFIG_DM_CRYPT \(or set encryption: none\)/);
  });
});
