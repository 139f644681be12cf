import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageHash } from '../../src/guestimage/image.ts';
import { machineLimit } from '../helpers/machine.ts';

// The package as a user gets it: `npm pack` (whose prepare script builds dist/ afresh), then
// `npm install -g` of that tarball into an empty prefix, then the installed command run from
// outside the repo. The package has no src/ and no tsx, so nothing can fall back to TypeScript.
const REPO = process.cwd();
let dir: string;
let installed: string;
let command: string;
const run = (...args: string[]) => execa(command, args, { cwd: dir, reject: false, env: { NO_COLOR: '1' } });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rp-package-'));
  await execa('npm', ['pack', '--pack-destination', dir], { cwd: REPO });
  const tarballs = readdirSync(dir).filter((f) => f.endsWith('.tgz'));
  expect(tarballs).toHaveLength(1);
  const prefix = join(dir, 'prefix');
  await execa(
    'npm',
    ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir, tarballs[0])],
    {
      cwd: dir,
    },
  );
  installed = join(prefix, 'lib/node_modules/ramster-provision');
  command = join(prefix, 'bin/ramster-provision');
}, machineLimit(120_000));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm pack, then npm install -g of the tarball into an empty prefix', () => {
  it('installs the built JS and the files it reads, without sources or a TypeScript loader', () => {
    for (const f of ['dist/cli/main.js', 'schemas/inventory.schema.json', 'playbooks/site.yaml', 'kconfig', 'kmod'])
      expect(existsSync(join(installed, f)), f).toBe(true);
    expect(existsSync(join(installed, 'src'))).toBe(false);
    expect(existsSync(join(installed, 'node_modules/tsx'))).toBe(false);
    expect(existsSync(join(installed, 'node_modules/esbuild'))).toBe(false);
  });

  it('ramster-provision --help', async () => {
    const r = await run('--help');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Usage: ramster-provision /);
    expect(r.stdout).toContain('Exit codes:');
  });

  it('validates the shipped example inventory and site playbook', async () => {
    const r = await run(
      'validate',
      join(installed, 'playbooks/inventory.example.yaml'),
      join(installed, 'playbooks/site.yaml'),
    );
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      `${installed}/playbooks/inventory.example.yaml: ok`,
      `${installed}/playbooks/site.yaml: ok`,
    ]);
  });

  it('plans and applies a playbook on a folder target', async () => {
    mkdirSync(join(dir, 'h1'));
    writeFileSync(join(dir, 'inv.yaml'), `all:\n  hosts:\n    h1: {connection: local, root: ${dir}/h1}\n`);
    writeFileSync(join(dir, 'pb.yaml'), `- hosts: all\n  steps:\n    - file: {path: /etc/motd, content: "hi\\n"}\n`);
    const plan = await run('plan', '-i', 'inv.yaml', 'pb.yaml');
    expect(plan.exitCode, plan.stderr).toBe(2);
    expect(plan.stdout).toContain('+hi');
    const apply = await run('apply', '-i', 'inv.yaml', 'pb.yaml', '--json');
    expect(apply.exitCode, apply.stderr).toBe(0);
    expect(JSON.parse(apply.stdout)).toMatchObject({ totals: { hosts: 1, changed: 1, failed: 0 } });
    expect(existsSync(join(dir, 'h1/etc/motd'))).toBe(true);
  });

  it('keys lab images alike from dist/ and from src/ in a clone (one cached image for the bin and the tests)', async () => {
    // dist/ was built from these sources by npm pack's prepare, in beforeAll.
    const built = (await import(join(REPO, 'dist/guestimage/image.js'))) as { imageHash: typeof imageHash };
    for (const kind of [
      { flavour: 'systemd', distro: 'bookworm' },
      { flavour: 'sysvinit', distro: 'bookworm' },
      { flavour: 'systemd', distro: 'trixie' },
    ] as const)
      expect(built.imageHash('ssh-ed25519 AAAA key', kind)).toBe(imageHash('ssh-ed25519 AAAA key', kind));
  });
});
