import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageStep } from '../../../src/steps/package.ts';
import { gatherFacts, type Facts } from '../../../src/transport/facts.ts';
import { LocalTransport } from '../../../src/transport/local.ts';
import { debianFacts, makeCtx, snapshot, tempRoot } from './helpers.ts';

// These tests query the real dpkg database of this Debian machine (and the real, empty,
// rpm database) but only ever apply a step whose packages are already installed.
const host = new LocalTransport();
let facts: Facts;
let notInstalled: string[];

const installed = async (name: string) =>
  (await host.exec(`dpkg-query -W -f '\${Status}' ${name}`)).stdout.trim() === 'install ok installed';

beforeAll(async () => {
  facts = await gatherFacts(host);
  notInstalled = [];
  for (const name of ['hello', 'sl', 'figlet', 'cowsay', 'tree', 'fortune-mod'])
    if (!(await installed(name))) notInstalled.push(name);
});

describe('package step (apt, real dpkg)', () => {
  it('sees the host as an apt host', () => {
    expect(facts.package_manager).toBe('apt');
    expect(notInstalled.length).toBeGreaterThanOrEqual(2);
  });

  it('present for an installed package is no change, also when applied', async () => {
    expect(await packageStep.checkApply({ name: 'coreutils' }, makeCtx(host, false, { facts }))).toEqual({
      action: 'none',
      summary: 'installed: coreutils',
    });
    expect((await packageStep.checkApply({ name: ['coreutils', 'dpkg'] }, makeCtx(host, true, { facts }))).action).toBe(
      'none',
    );
  });

  it('dry run for missing packages reports one batched apt command in one query, installing nothing', async () => {
    const [a, b] = notInstalled;
    const before = host.roundTrips;
    const c = await packageStep.checkApply({ name: ['coreutils', a, b] }, makeCtx(host, false, { facts }));
    expect(host.roundTrips - before).toBe(1);
    expect(c).toEqual({
      action: 'create',
      summary: `install ${a}, ${b}: DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${a} ${b}`,
    });
    expect(await installed(a)).toBe(false);
    expect(await installed(b)).toBe(false);
  });

  it('update_cache runs apt-get update in the same command', async () => {
    const c = await packageStep.checkApply(
      { name: notInstalled[0], update_cache: true },
      makeCtx(host, false, { facts }),
    );
    expect(c.summary).toBe(
      `install ${notInstalled[0]}: apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${notInstalled[0]}`,
    );
  });

  it('absent: no change for a missing package; removal of an installed one is planned (dry run only)', async () => {
    expect(
      (await packageStep.checkApply({ name: notInstalled[0], state: 'absent' }, makeCtx(host, true, { facts }))).action,
    ).toBe('none');
    expect(
      await packageStep.checkApply({ name: 'coreutils', state: 'absent' }, makeCtx(host, false, { facts })),
    ).toEqual({
      action: 'delete',
      summary: 'remove coreutils: DEBIAN_FRONTEND=noninteractive apt-get remove -y coreutils',
    });
  });

  it('refuses names that are not plain package names, and hosts without a package manager', async () => {
    await expect(packageStep.checkApply({ name: 'foo; rm -rf /' }, makeCtx(host, false, { facts }))).rejects.toThrow(
      /not a plain package name/,
    );
    await expect(
      packageStep.checkApply({ name: 'x' }, makeCtx(host, false, { facts: { ...facts, package_manager: 'unknown' } })),
    ).rejects.toThrow(/no supported package manager on node0/);
  });
});

describe('package step (dnf, real rpm database of this machine, which is empty)', () => {
  it('queries rpm once and plans one dnf command', async () => {
    const c = await packageStep.checkApply(
      { name: ['bash', 'coreutils'] },
      makeCtx(host, false, { facts: { ...facts, package_manager: 'dnf' } }),
    );
    expect(c).toEqual({ action: 'create', summary: 'install bash, coreutils: dnf -y install bash coreutils' });
  });
});

describe('package step on a folder target', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir: root, cleanup } = await tempRoot());
    await mkdir(join(root, 'var/lib/dpkg'), { recursive: true });
    // A minimal dpkg status database of the folder's OS (not the machine's).
    await writeFile(
      join(root, 'var/lib/dpkg/status'),
      'Package: demo-pkg\nStatus: install ok installed\nMaintainer: x\nVersion: 1\nArchitecture: all\nDescription: d\n\n' +
        'Package: gone-pkg\nStatus: deinstall ok config-files\nMaintainer: x\nVersion: 1\nArchitecture: all\nDescription: d\n',
    );
  });
  afterAll(() => cleanup());

  it("reads the folder's own dpkg database and plans a chrooted install", async () => {
    const t = new LocalTransport(root);
    const before = await snapshot(root);
    const c = await packageStep.checkApply(
      { name: ['demo-pkg', 'gone-pkg', 'coreutils'] },
      makeCtx(t, false, { facts: debianFacts() }),
    );
    expect(c).toEqual({
      action: 'create',
      summary: `install gone-pkg, coreutils: chroot '${root}' env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gone-pkg coreutils`,
    });
    expect(await snapshot(root)).toEqual(before);
  });
});
