import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gatherFacts } from '../../src/transport/facts.ts';
import { LocalTransport } from '../../src/transport/local.ts';
import { absent, errorOf, makeLab, runOn, type Lab } from './helpers.ts';

// Class: PATH ESCAPE FROM A FOLDER/CHROOT TARGET, and TARGET DATA RUN AS CODE. A folder target
// (an image being built) is not trusted: every path is resolved inside its root as the booted
// image would resolve it, `..` in a step path is refused, and files it holds are parsed, never
// executed. Each attack aims at a marker outside the root; it must not appear.
let lab: Lab;
beforeEach(() => (lab = makeLab()));
afterEach(() => lab.cleanup());

const file = (path: string, content = 'x\n') =>
  `    - file: {path: "${path}", content: "${content.replace(/\n/g, '\\n')}"}\n`;

describe('path escape from a folder target', () => {
  it("a step path with '..' is refused, literal or templated", async () => {
    const m = lab.marker('dotdot');
    const up = '/..'.repeat(12);
    for (const [vars, path] of [
      ['', `${up}${m}`],
      [`    name: "..${up}${m}"`, '/etc/{{ name }}'],
    ]) {
      for (const apply of [false, true]) {
        const r = await runOn(lab, vars, file(path), apply);
        expect(absent(m)).toBe(true);
        expect(errorOf(r)).toMatch(/pb\.yaml:3:7: path ".*" contains '\.\.': give the absolute path without it/);
      }
    }
  });

  it('an absolute directory symlink (Debian var/run -> /run) is followed inside the root', async () => {
    mkdirSync(join(lab.root, 'var'));
    symlinkSync(lab.outside, join(lab.root, 'var/run')); // absolute, pointing at the controller's folder
    const r = await runOn(lab, '', file('/var/run/pwned'), true);
    expect(r.hosts[0].status, errorOf(r)).toBe('changed');
    expect(absent(lab.marker('pwned'))).toBe(true);
    expect(readFileSync(join(lab.root, lab.outside, 'pwned'), 'utf8')).toBe('x\n'); // where the image itself would put it
  });

  it('a relative symlink climbing out (etc/evil -> ../../../..) stays at the root', async () => {
    mkdirSync(join(lab.root, 'etc'));
    symlinkSync(`${'../'.repeat(12)}${lab.outside.slice(1)}`, join(lab.root, 'etc/evil'));
    const r = await runOn(lab, '', file('/etc/evil/pwned'), true);
    expect(r.hosts[0].status, errorOf(r)).toBe('changed');
    expect(absent(lab.marker('pwned'))).toBe(true);
    expect(readFileSync(join(lab.root, lab.outside, 'pwned'), 'utf8')).toBe('x\n');
  });

  it("a file that is a symlink to the controller's file is never read through: its content stays out of the plan's diff", async () => {
    writeFileSync(lab.marker('secret.txt'), 'controller-only-content\n');
    mkdirSync(join(lab.root, 'etc'));
    symlinkSync(lab.marker('secret.txt'), join(lab.root, 'etc/motd'));
    const r = await runOn(lab, '', file('/etc/motd', 'hello\n'), false);
    const change = r.hosts[0].steps[0].change!;
    expect(change.action).toBe('create'); // the link's target does not exist inside the root
    expect(JSON.stringify(r)).not.toContain('controller-only-content');
    const applied = await runOn(lab, '', file('/etc/motd', 'hello\n'), true);
    expect(applied.hosts[0].status).toBe('changed');
    expect(readFileSync(lab.marker('secret.txt'), 'utf8')).toBe('controller-only-content\n');
  });

  it('the sysfs step refuses /sys/../etc/... (schema at load and after interpolation, and the step itself)', async () => {
    mkdirSync(join(lab.root, 'etc'));
    writeFileSync(join(lab.root, 'etc/x'), '0\n');
    const r = await runOn(lab, '    p: /sys/../etc/x', '    - sysfs: {path: "{{ p }}", value: 1}\n', true);
    expect(errorOf(r)).toMatch(/sysfs\.path must match pattern .* \(after interpolation\)/);
    expect(readFileSync(join(lab.root, 'etc/x'), 'utf8')).toBe('0\n');
    const { sysfsStep } = await import('../../src/steps/sysfs.ts');
    const { makeCtx } = await import('../unit/steps/helpers.ts');
    await expect(
      sysfsStep.checkApply({ path: '/sys/../etc/x', value: 1 }, makeCtx(new LocalTransport(lab.root), true)),
    ).rejects.toThrow(/without '\.' or '\.\.'/);
  });
});

describe('target data run as code', () => {
  it("the facts script parses a folder's os-release, never sources it; its hostname cannot point outside", async () => {
    const m = lab.marker('os-release');
    mkdirSync(join(lab.root, 'etc'));
    writeFileSync(
      join(lab.root, 'etc/os-release'),
      `ID=debian; touch ${m}\nVERSION_ID="12$(touch ${m})"\nID_LIKE=\`touch ${m}\`\n$(touch ${m})\n`,
    );
    writeFileSync(lab.marker('shadow'), 'root:controller-hash:1:0:99999:7:::\n');
    symlinkSync(lab.marker('shadow'), join(lab.root, 'etc/hostname'));
    const facts = await gatherFacts(new LocalTransport(lab.root));
    expect(absent(m)).toBe(true);
    expect(facts.distro).toBe(`debian; touch ${m}`); // the text, as data
    expect(facts.distro_version).toBe(`12$(touch ${m})`);
    expect(facts.hostname).toBe('');
    expect(JSON.stringify(facts)).not.toContain('controller-hash');
  });
});
