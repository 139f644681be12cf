import { describe, expect, it } from 'vitest';
import { describeMmdebstrap, mmdebstrapLine, newMmdebstrapProgress } from '../../src/guestimage/mmdebstrap-progress.ts';

// Lines as `mmdebstrap --verbose` 1.3.5 prints them on Debian 12 (copied from a real run).
const OUTPUT = `I: chroot architecture amd64 is equal to the host's architecture
I: running apt-get update...
Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]
Get:6 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages [385 kB]
Fetched 9424 kB in 9s (1003 kB/s)
I: downloading packages with apt...
0 upgraded, 89 newly installed, 0 to remove and 0 not upgraded.
Need to get 38.0 MB of archives.
Get:1 http://deb.debian.org/debian bookworm/main amd64 gcc-12-base amd64 12.2.0-14+deb12u1 [37.6 kB]
Get:2 http://deb.debian.org/debian bookworm/main amd64 libc6 amd64 2.36-9+deb12u14 [2759 kB]
Get:3 http://deb.debian.org/debian bookworm/main amd64 libgcc-s1 amd64 12.2.0-14+deb12u1 [49.9 kB]
I: installing essential packages...
/usr/bin/dpkg --status-fd 11 --no-triggers --unpack --auto-deconfigure /tmp/mmdebstrap.0U8SN2gem3/var/cache/apt/archives/libc6_2.36-9+deb12u14_amd64.deb
Selecting previously unselected package libc6:amd64.
Preparing to unpack .../libc6_2.36-9+deb12u14_amd64.deb ...
Unpacking libc6:amd64 (2.36-9+deb12u14) ...
Unpacking libgcc-s1:amd64 (12.2.0-14+deb12u1) ...
/usr/bin/dpkg --status-fd 11 --no-triggers --configure libgcc-s1:amd64 libc6:amd64
Setting up libc6:amd64 (2.36-9+deb12u14) ...
I: installing remaining packages inside the chroot...
0 upgraded, 120 newly installed, 0 to remove and 0 not upgraded.
Get:1 http://deb.debian.org/debian bookworm/main amd64 linux-image-6.1.0-41-amd64 amd64 6.1.158-1 [68.9 MB]`;

describe('mmdebstrap progress', () => {
  it("counts .debs fetched with their sizes (not index files), unpacked and set up, out of every apt run's total", () => {
    const p = newMmdebstrapProgress();
    const changed = OUTPUT.split('\n').filter((l) => mmdebstrapLine(p, l));
    expect(p).toEqual({
      phase: 'installing remaining packages inside the chroot',
      fetched: 4,
      fetchedBytes: 37.6e3 + 2759e3 + 49.9e3 + 68.9e6,
      unpacked: 2,
      setUp: 1,
      total: 209,
    });
    expect(changed).toHaveLength(14); // 5 phases, 4 fetches, 2 unpacked, 1 set up, 2 totals
    expect(describeMmdebstrap(p)).toBe(
      'installing remaining packages inside the chroot: 4 packages fetched (71.7 MB), 2 unpacked, 1 set up of 209',
    );
  });

  it('says what it knows before apt has planned anything', () => {
    const p = newMmdebstrapProgress();
    expect(mmdebstrapLine(p, 'Reading package lists...')).toBe(false);
    expect(mmdebstrapLine(p, 'I: running apt-get update...')).toBe(true);
    expect(describeMmdebstrap(p)).toBe('running apt-get update: 0 packages fetched (0.0 MB), 0 unpacked, 0 set up');
  });
});
