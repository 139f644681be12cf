import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exitCode } from '../../src/engine/result.ts';
import { parseKernelSource } from '../../src/kernel/source.ts';
import { absent, errorOf, makeLab, runOn, type Lab } from './helpers.ts';

// Class: COMMAND INJECTION THROUGH DATA. An inventory or play variable is data: it reaches a
// shell only quoted, and never as an option of the command it is given to. Each attack plants
// a command that would create a marker file; the marker must not appear, and the user gets
// an error naming the file:line:col of the arg and what to write instead.
let lab: Lab;
beforeEach(() => (lab = makeLab()));
afterEach(() => lab.cleanup());

describe('command injection through data', () => {
  it('option injection: kernel_config_base "--eval=$(shell touch ...)" never reaches make (the schema is checked again after interpolation)', async () => {
    const m = lab.marker('make-eval');
    const r = await runOn(
      lab,
      `    kernel_config_base: "--eval=$(shell touch ${m})"`,
      `    - kconfig: {tree: /usr/src/linux, base: "{{ kernel_config_base }}", fragments: [x.config]}\n`,
      false,
    );
    expect(absent(m)).toBe(true);
    expect(exitCode(r)).toBe(1);
    expect(errorOf(r)).toMatch(
      /pb\.yaml:3:45: error: step 'kconfig': kconfig\.base must match pattern .* \(after interpolation\)/,
    );
    expect(errorOf(r)).toMatch(/hint: the value comes from a \{\{ variable \}\}/);
  });

  it('shell expansion: kernel_source "/usr/src/k$(touch ...)" is quoted where kconfig reports it', async () => {
    const tree = join(lab.root, 'usr/src/k$(touch pwned)');
    mkdirSync(join(tree, 'scripts/kconfig'), { recursive: true });
    writeFileSync(join(tree, 'Makefile'), 'VERSION = 6\nPATCHLEVEL = 1\n');
    writeFileSync(join(tree, 'scripts/kconfig/merge_config.sh'), '');
    writeFileSync(join(lab.dir, 'x.config'), 'CONFIG_SWAP=y\n');
    const r = await runOn(
      lab,
      `    kernel_source: "/usr/src/k$(touch pwned)"`,
      `    - kconfig: {source: "{{ kernel_source }}", base: olddefconfig, fragments: [x.config]}\n`,
      false,
    );
    expect(absent(join(lab.root, 'pwned'))).toBe(true);
    expect(absent(join(lab.dir, 'pwned'))).toBe(true);
    // the value is shown as text, not run
    expect(errorOf(r)).toContain('/usr/src/k$(touch pwned) has no .config to start from (base: olddefconfig)');
  });

  it('git option injection: {git: "--upload-pack=touch ...;"} is refused before git runs (scheme check; git gets -- too)', async () => {
    const m = lab.marker('upload-pack');
    const r = await runOn(
      lab,
      `    kernel_source: {git: "--upload-pack=touch ${m};", ref: "."}`,
      `    - kconfig: {source: "{{ kernel_source }}", fragments: [x.config]}\n`,
      false,
    );
    expect(absent(m)).toBe(true);
    expect(errorOf(r)).toMatch(/kconfig\.source\.git must match pattern .* \(after interpolation\)/);
    expect(() => parseKernelSource({ git: `--upload-pack=touch ${m};`, ref: 'v1' })).toThrow(
      /git URL "--upload-pack=touch .*" is not an https:\/\/, http:\/\/, git:\/\/, ssh:\/\//,
    );
    expect(() => parseKernelSource({ git: 'ext::sh -c touch% /tmp/x', ref: 'v1' })).toThrow(/is not an https/);
    expect(() => parseKernelSource({ git: 'https://example.org/linux.git', ref: '--output=/tmp/x' })).toThrow(
      /is not a tag, branch or commit name/,
    );
  });

  it('unquoted values in user commands: unless/onlyif (which a plan runs), cmd and validate refuse a value with shell characters; | quote and argv pass it as one word', async () => {
    const m = lab.marker('unless');
    const vars = `    v: "x; touch ${m}"`;
    for (const step of [
      `    - command: {cmd: "true", unless: "grep -q {{ v }} /etc/hosts"}\n`,
      `    - command: {cmd: "true", onlyif: "test -n {{ v }}"}\n`,
      `    - command: {cmd: "echo {{ v }}"}\n`,
      `    - file: {path: /etc/x, content: "x", validate: "test -n {{ v }} %s"}\n`,
    ]) {
      for (const apply of [false, true]) {
        const r = await runOn(lab, vars, step, apply);
        expect(absent(m), step).toBe(true);
        expect(errorOf(r), step).toMatch(
          /pb\.yaml:3:7: template line 1 \(.*\): "\{\{ v \}\}" puts a value with spaces or shell characters into a shell command unquoted; write \{\{ v \| quote \}\}/,
        );
      }
    }
    // the safe ways: the value arrives as one literal word
    const ok = await runOn(
      lab,
      vars,
      `    - command: {cmd: "printf %s {{ v | quote }} > $ROOT/quoted", unless: "grep -qF {{ v | quote }} $ROOT/nothing-here"}\n    - command: {cmd: [sh, -c, 'printf %s "$1" > "$ROOT/argv"', sh, "{{ v }}"]}\n`,
      true,
    );
    expect(ok.hosts[0].status, errorOf(ok)).toBe('changed');
    expect(absent(m)).toBe(true);
    expect(readFileSync(join(lab.root, 'quoted'), 'utf8')).toBe(`x; touch ${m}`);
    expect(readFileSync(join(lab.root, 'argv'), 'utf8')).toBe(`x; touch ${m}`);
  });

  it('fstab line injection: mount opts with a newline are refused, fstab keeps its lines', async () => {
    mkdirSync(join(lab.root, 'etc'));
    writeFileSync(join(lab.root, 'etc/fstab'), 'proc /proc proc defaults 0 0\n');
    const r = await runOn(
      lab,
      `    o: "defaults\\n/dev/evil / ext4 defaults 0 0"`,
      `    - mount: {path: /mnt, src: tmpfs, fstype: tmpfs, opts: "{{ o }}", state: present}\n`,
      true,
    );
    expect(errorOf(r)).toMatch(/mount\.opts must match pattern .* \(after interpolation\)/);
    expect(readFileSync(join(lab.root, 'etc/fstab'), 'utf8')).toBe('proc /proc proc defaults 0 0\n');
  });
});
