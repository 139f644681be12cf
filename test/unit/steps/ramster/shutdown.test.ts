import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const files = new URL('../../../../playbooks/files/', import.meta.url).pathname;
const unitText = readFileSync(join(files, 'shutdown/ramster-swapoff.service'), 'utf8');
const initScript = join(files, 'shutdown/ramster-swapoff.init');
const entries = (section: string, key: string) => {
  const body = unitText.split(/^\[/m).find((s) => s.startsWith(`${section}]`)) ?? '';
  return body
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .flatMap((l) => l.slice(key.length + 1).split(/\s+/));
};

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'rp-shutdown-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('ramster-swapoff.service', () => {
  it('is a valid unit (systemd-analyze verify)', () => {
    writeFileSync(join(dir, 'ramster-swapoff.service'), unitText);
    const r = spawnSync('systemd-analyze', ['verify', join(dir, 'ramster-swapoff.service')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('stops before the network and remote file systems go down, and its stop is swapoff -a', () => {
    // Stop order is the reverse of start order: After= these means stopped before them.
    expect(entries('Unit', 'After')).toEqual(
      expect.arrayContaining(['network.target', 'network-online.target', 'remote-fs.target', 'ramster.service']),
    );
    expect(entries('Unit', 'Wants')).toContain('network-online.target');
    expect(entries('Unit', 'DefaultDependencies')).not.toContain('no');
    expect(unitText.split('\n')).toEqual(
      expect.arrayContaining([
        'Type=oneshot',
        'RemainAfterExit=yes',
        'ExecStart=/bin/true',
        'ExecStop=/sbin/swapoff -a',
        'WantedBy=multi-user.target',
      ]),
    );
  });

  it('the ramster.service drop-in together with the unit still verifies', () => {
    const ctl = new URL('../../../../playbooks/files/ramster-tools/ramster-ctl', import.meta.url).pathname;
    writeFileSync(
      join(dir, 'ramster.service'),
      readFileSync(join(files, 'ramster-tools/ramster.service'), 'utf8').replaceAll('/usr/sbin/ramster-ctl', ctl),
    );
    mkdirSync(join(dir, 'ramster.service.d'));
    writeFileSync(
      join(dir, 'ramster.service.d/ramster-needs-kernel.conf'),
      readFileSync(join(files, 'systemd/ramster-needs-kernel.conf'), 'utf8'),
    );
    const r = spawnSync('systemd-analyze', ['verify', join(dir, 'ramster.service')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(readFileSync(join(files, 'systemd/ramster-needs-kernel.conf'), 'utf8')).toMatch(
      /^\[Unit\]\nConditionPathIsDirectory=\/sys\/kernel\/mm\/ramster$/m,
    );
  });
});

describe('ramster-swapoff SysV script', () => {
  const text = readFileSync(initScript, 'utf8');

  it("has a K number before the network's K90 (EL6 chkconfig) and LSB stop dependencies on the network (insserv)", () => {
    const stop = Number(/^# chkconfig: \d+ \d+ (\d+)$/m.exec(text)![1]);
    expect(stop).toBeLessThan(90);
    expect(text).toMatch(/^# Required-Stop: \$network \$remote_fs$/m);
    expect(text).toMatch(/^# Default-Stop: 0 1 6$/m);
  });

  it('start arms it (the EL6 rc runs K-scripts of started services only), stop runs swapoff -a when swap is on', () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'swapoff'), `#!/bin/sh\necho "swapoff $*" >> ${dir}/calls\n`);
    chmodSync(join(bin, 'swapoff'), 0o755);
    mkdirSync(join(dir, 'proc'));
    mkdirSync(join(dir, 'lock'));
    const sh = (arg: string) =>
      spawnSync('sh', [initScript, arg], {
        encoding: 'utf8',
        env: {
          PATH: `${bin}:${process.env.PATH}`,
          RAMSTER_PROC: join(dir, 'proc'),
          RAMSTER_LOCKDIR: join(dir, 'lock'),
        },
      });
    writeFileSync(join(dir, 'proc/swaps'), 'Filename\tType\tSize\tUsed\tPriority\n/dev/vda2 partition 1048572 0 -2\n');
    expect(sh('status').status).toBe(3);
    expect(sh('start').status).toBe(0);
    expect(existsSync(join(dir, 'lock/ramster-swapoff'))).toBe(true);
    expect(sh('status').status).toBe(0);
    expect(sh('stop').status).toBe(0);
    expect(readFileSync(join(dir, 'calls'), 'utf8')).toBe('swapoff -a\n');
    expect(existsSync(join(dir, 'lock/ramster-swapoff'))).toBe(false);
    writeFileSync(join(dir, 'proc/swaps'), 'Filename\tType\tSize\tUsed\tPriority\n');
    expect(sh('stop').status).toBe(0);
    expect(readFileSync(join(dir, 'calls'), 'utf8')).toBe('swapoff -a\n');
    expect(sh('bogus').status).toBe(2);
  });
});
