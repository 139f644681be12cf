import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { machineLimit } from '../../helpers/machine.ts';
import { tempDir } from '../../helpers/tmp.ts';

const toolsDir = new URL('../../../playbooks/files/ramster-tools/', import.meta.url).pathname;
const sh = (file: string) => join(toolsDir, file);

describe('ramster-tools files', () => {
  // POSIX sh, dash, checkbashisms and shellcheck: test/unit/shell-scripts.test.ts

  it('the init script has chkconfig and LSB headers and stops before the network (K76 < K90)', () => {
    const text = readFileSync(sh('ramster.init'), 'utf8');
    expect(text).toMatch(/^# chkconfig: 2345 24 76$/m);
    expect(text).toMatch(
      /^### BEGIN INIT INFO\n# Provides: ramster\n# Required-Start: \$network \$local_fs\n[\s\S]*### END INIT INFO$/m,
    );
    expect(text).toMatch(/^# Default-Start: 2 3 4 5$/m);
  });

  it('the init script drives ramster-ctl', () => {
    const root = tempDir('ramster-init-');
    const fake = join(root, 'ctl');
    execFileSync('sh', ['-c', `printf '#!/bin/sh\\necho "ctl $*"\\n' > ${fake}; chmod +x ${fake}`]);
    const run = (arg: string) =>
      spawnSync('sh', [sh('ramster.init'), arg], {
        env: { PATH: process.env.PATH, RAMSTER_CTL: fake },
        encoding: 'utf8',
      });
    expect(run('start').stdout).toBe('ctl start --boot\n');
    expect(run('stop').stdout).toBe('ctl stop --boot\n');
    expect(run('status').stdout).toBe('ctl status\n');
    expect(run('configure').stdout).toBe('ctl configure\nctl start --boot\n');
    expect(run('bogus').status).toBe(2);
  });

  it('the systemd unit is a oneshot that stays active, after the network', () => {
    const unit = readFileSync(sh('ramster.service'), 'utf8');
    for (const line of [
      'Type=oneshot',
      'RemainAfterExit=yes',
      'After=network-online.target',
      'Wants=network-online.target',
      'ExecStart=/usr/sbin/ramster-ctl start --boot',
      'ExecStop=/usr/sbin/ramster-ctl stop --boot',
      'WantedBy=multi-user.target',
    ])
      expect(unit.split('\n')).toContain(line);
    // systemd-analyze also checks that ExecStart exists: point it at the repository's copy.
    const dir = tempDir('ramster-unit-');
    writeFileSync(join(dir, 'ramster.service'), unit.replaceAll('/usr/sbin/ramster-ctl', sh('ramster-ctl')));
    const verify = spawnSync('systemd-analyze', ['verify', join(dir, 'ramster.service')], { encoding: 'utf8' });
    expect(verify.stderr).toBe('');
    expect(verify.status).toBe(0);
  });
});

describe('build-packages.sh', () => {
  let out: string;
  beforeAll(() => {
    out = tempDir('ramster-pkg-');
    execFileSync('sh', [sh('build-packages.sh'), out, '1.2.3'], { encoding: 'utf8' });
  }, machineLimit(15_000)); // dpkg-deb and rpmbuild: ~15 s idle

  it('builds one .deb and one .rpm', () => {
    expect(readdirSync(out).sort()).toEqual(['ramster-tools-1.2.3-1.noarch.rpm', 'ramster-tools_1.2.3_all.deb']);
  });

  it('the .deb holds the tool, the init script, the unit and the defaults as conffile', () => {
    const deb = join(out, 'ramster-tools_1.2.3_all.deb');
    const list = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8' });
    expect(list).toMatch(/^-rwxr-xr-x root\/root .* \.\/usr\/sbin\/ramster-ctl$/m);
    expect(list).toMatch(/^-rwxr-xr-x root\/root .* \.\/etc\/init\.d\/ramster$/m);
    expect(list).toMatch(/^-rw-r--r-- root\/root .* \.\/lib\/systemd\/system\/ramster\.service$/m);
    expect(list).toMatch(/^-rw-r--r-- root\/root .* \.\/etc\/default\/ramster$/m);
    expect(execFileSync('dpkg-deb', ['-f', deb, 'Package', 'Version', 'Architecture'], { encoding: 'utf8' })).toBe(
      'Package: ramster-tools\nVersion: 1.2.3\nArchitecture: all\n',
    );
    const x = tempDir('ramster-debx-');
    execFileSync('dpkg-deb', ['-e', deb, join(x, 'DEBIAN')]);
    expect(readFileSync(join(x, 'DEBIAN/conffiles'), 'utf8')).toBe('/etc/default/ramster\n/etc/init.d/ramster\n');
    execFileSync('dpkg-deb', ['-x', deb, x]);
    expect(readFileSync(join(x, 'usr/sbin/ramster-ctl'), 'utf8')).toBe(readFileSync(sh('ramster-ctl'), 'utf8'));
    expect(readFileSync(join(x, 'etc/default/ramster'), 'utf8')).toBe(readFileSync(sh('ramster.default'), 'utf8'));
  });

  it('the .rpm holds the EL layout, a noreplace config, and a gzip payload old rpm can read', () => {
    const rpm = join(out, 'ramster-tools-1.2.3-1.noarch.rpm');
    expect(execFileSync('rpm', ['-qlp', rpm], { encoding: 'utf8' }).trim().split('\n')).toEqual([
      '/etc/rc.d/init.d/ramster',
      '/etc/sysconfig/ramster',
      '/usr/lib/systemd/system/ramster.service',
      '/usr/sbin/ramster-ctl',
    ]);
    expect(execFileSync('rpm', ['-qcp', rpm], { encoding: 'utf8' })).toBe('/etc/sysconfig/ramster\n');
    expect(
      execFileSync('rpm', ['-qp', '--qf', '%{NAME} %{VERSION} %{ARCH} %{PAYLOADCOMPRESSOR}', rpm], {
        encoding: 'utf8',
      }),
    ).toBe('ramster-tools 1.2.3 noarch gzip');
    const modes = execFileSync('rpm', ['-qp', '--qf', '[%{FILEMODES:perms} %{FILENAMES}\n]', rpm], {
      encoding: 'utf8',
    });
    expect(modes).toContain('-rwxr-xr-x /usr/sbin/ramster-ctl');
  });
});
