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

  it('swapoff_room: swaps off when the pages fit in RAM and other swap, refuses (nothing changed) when not', () => {
    stub('swapoff', 'printf "%s\\n" "$*" >> "$STUB_DIR/swapoffs"');
    writeFileSync(join(dir, 'meminfo'), 'MemTotal:         500000 kB\nMemAvailable:     300000 kB\n');
    const swaps = (used: number) =>
      writeFileSync(
        join(dir, 'swaps'),
        `Filename\tType\tSize\tUsed\tPriority\n/dev/fake-dm partition\t786428\t${used}\t32767\n/swapfile file\t102400\t2400\t-2\n`,
      );
    const off = () =>
      spawnSync(
        'dash',
        [
          '-c',
          `. "${dir}/functions.sh"; SWAPS="${dir}/swaps"; MEMINFO="${dir}/meminfo"; swapoff_room /dev/fake-dm "/dev/nvme0n1 replaces it"`,
        ],
        { encoding: 'utf8', env: { PATH: `${dir}/bin:/usr/bin:/bin`, STUB_DIR: dir } },
      );
    // room: 300000 KiB available + 100000 free on the swap file - 65536 kept = 334464 KiB
    swaps(400_000);
    const refused = off();
    expect(refused.status).toBe(1);
    expect(refused.stderr).toBe(
      'ramster-modern: not swapping off /dev/fake-dm (/dev/nvme0n1 replaces it): it would bring 390 MiB home, and this node has room for 326 MiB (available memory and other swap, 64 MiB kept free): free memory on this node (or wait for the workload to end), then apply again; nothing was changed\n',
    );
    expect(() => readFileSync(join(dir, 'swapoffs'), 'utf8')).toThrow();
    swaps(300_000);
    const done = off();
    expect(done.status, done.stderr).toBe(0);
    expect(readFileSync(join(dir, 'swapoffs'), 'utf8')).toBe('/dev/fake-dm\n');
    expect(done.stdout).toBe('ramster-modern: swap off /dev/fake-dm (/dev/nvme0n1 replaces it)\n');
  });
});
