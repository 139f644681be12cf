import { describe, expect, it } from 'vitest';
import { imageHash } from '../../src/guestimage/image.ts';
import { mmdebstrapArgs } from '../../src/guestimage/recipe.ts';
import { suiteSources } from '../../src/guestimage/sources.ts';
import { labImageKind } from '../../src/lab/lab.ts';

const DEB822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

describe('a guest image of another Debian release from this machine’s own mirror', () => {
  it('deb822: the main archive’s URI with the other suite, never the security archive', () => {
    expect(suiteSources(DEB822, '/etc/apt/sources.list.d/debian.sources', 'trixie')).toBe(
      'Types: deb\nURIs: http://mirror.example/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
    );
  });

  it('one-line sources.list: skips comments, deb-src, security and -updates lines; keeps signed-by', () => {
    const list = `# deb http://old.example/debian bookworm main
deb-src http://src.example/debian bookworm main
deb http://security.example/debian-security bookworm-security main
deb http://upd.example/debian bookworm-updates main
deb [arch=amd64 signed-by=/etc/apt/keyrings/mirror.gpg] http://mirror.example/debian bookworm main contrib
`;
    expect(suiteSources(list, '/etc/apt/sources.list', 'trixie')).toBe(
      'Types: deb\nURIs: http://mirror.example/debian\nSuites: trixie\nComponents: main\nSigned-By: /etc/apt/keyrings/mirror.gpg\n',
    );
  });

  it('no main archive at all: a ToolError that says what to configure', () => {
    expect(() =>
      suiteSources(
        'deb http://security.example/debian-security bookworm-security main\n',
        '/etc/apt/sources.list',
        'trixie',
      ),
    ).toThrow(/no Debian mirror for the main archive in \/etc\/apt\/sources.list/);
  });

  it('mmdebstrap builds the asked suite; each (flavour, release) has its own cache key', () => {
    const args = (distro?: 'bookworm' | 'trixie') =>
      mmdebstrapArgs({ rootfs: '/r', hostSources: '/s', debCache: '/c', customizeFile: '/f', distro });
    expect(args().slice(-3)).toEqual(['bookworm', '/r', '/s']);
    expect(args('trixie').slice(-3)).toEqual(['trixie', '/r', '/s']);
    const keys = new Set(
      [
        { flavour: 'systemd', distro: 'bookworm' },
        { flavour: 'sysvinit', distro: 'bookworm' },
        { flavour: 'systemd', distro: 'trixie' },
      ].map((k) => imageHash('ssh-ed25519 AAAA key', k as never)),
    );
    expect(keys.size).toBe(3);
  });

  it('the lab: trixie for the systemd image; the RAMster kernel only on Debian 12', () => {
    expect(labImageKind({ distro: 'trixie' })).toEqual({ flavour: 'systemd', distro: 'trixie' });
    expect(labImageKind({ kernel: 'ramster' })).toEqual({ flavour: 'sysvinit', distro: 'bookworm' });
    expect(() => labImageKind({ kernel: 'ramster', distro: 'trixie' })).toThrow(
      /--kernel ramster runs on a Debian 12 \(bookworm\) image, not trixie/,
    );
  });
});
