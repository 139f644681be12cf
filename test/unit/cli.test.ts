import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.ts';

// The real CLI as a user runs it, against folder hosts (connection: local).
const cli = (...args: string[]) => execa('node', [CLI, ...args], { reject: false, env: { NO_COLOR: '1' } });
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rp-cli-'));
  mkdirSync(join(dir, 'h1'));
  writeFileSync(join(dir, 'inv.yaml'), `all:\n  hosts:\n    h1: {connection: local, root: ${dir}/h1}\n`);
  writeFileSync(join(dir, 'pb.yaml'), `- hosts: all\n  steps:\n    - file: {path: /etc/motd, content: "hi\\n"}\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('cli', () => {
  it('--help teaches: commands, examples and every exit code', async () => {
    const r = await cli('--help');
    expect(r.exitCode).toBe(0);
    for (const word of [
      'validate',
      'plan',
      'apply',
      'facts',
      'verify',
      'status',
      'doctor',
      'lab',
      'Examples:',
      'Exit codes:',
      '130',
    ])
      expect(r.stdout).toContain(word);
  });

  it('validate: ok for the shipped example inventory and playbook', async () => {
    const r = await cli('validate', 'playbooks/inventory.example.yaml', 'playbooks/example.yaml');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe('playbooks/inventory.example.yaml: ok\nplaybooks/example.yaml: ok');
  });

  it('validate refuses a device, a FIFO and a list that is not a playbook, each with a location, exit 1', async () => {
    const fifo = join(dir, 'fifo');
    await execa('mkfifo', [fifo]);
    const hosts = join(dir, 'hosts.yaml');
    writeFileSync(hosts, '- node1\n- node2\n');
    const r = await cli('validate', '/dev/zero', fifo, hosts, 'playbooks/example.yaml');
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('playbooks/example.yaml: ok');
    expect(r.stderr).toContain('/dev/zero:1:1: error: this is a character device, not a regular file');
    expect(r.stderr).toContain(`${fifo}:1:1: error: this is a named pipe (FIFO), not a regular file`);
    expect(r.stderr).toContain(`${hosts}:1:1: error: this file is a YAML list, so it is not an inventory`);
    expect(r.stderr).toMatch(/\n3 error\(s\)$/);
  });

  it('bad input: every error with file:line:col, exit 1, never a stack trace', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, `all:\n  hosts:\n    h1: {port: 70000}\n  childs: {}\n`);
    const r = await cli('plan', '-i', bad, join(dir, 'pb.yaml'));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^${bad}:3:16: error: .*port`, 'm'));
    expect(r.stderr).toMatch(new RegExp(`^${bad}:4:3: error: .*childs`, 'm'));
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const missing = await cli('plan', '-i', join(dir, 'nope.yaml'));
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/nope\.yaml:1:1: error: file not found/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
  });

  it('plan exit 2, apply --json one document on stdout, then plan exit 0', async () => {
    const inv = join(dir, 'inv.yaml');
    const pb = join(dir, 'pb.yaml');
    const plan = await cli('plan', '-i', inv, pb);
    expect(plan.exitCode).toBe(2);
    expect(plan.stdout).toContain('+hi');
    const apply = await cli('apply', '-i', inv, pb, '--json');
    expect(apply.exitCode).toBe(0);
    const doc = JSON.parse(apply.stdout);
    expect(doc).toMatchObject({ schemaVersion: 1, mode: 'apply', totals: { hosts: 1, changed: 1, failed: 0 } });
    expect(doc.hosts[0].steps[0]).toMatchObject({ type: 'file', status: 'changed', change: { action: 'create' } });
    expect(apply.stderr).toContain('RECAP');
    expect((await cli('apply', '-i', inv, pb, '--check')).exitCode).toBe(0);
  });

  it('plain output has no escape codes when not on a TTY', async () => {
    const r = await cli('plan', '-i', join(dir, 'inv.yaml'), join(dir, 'pb.yaml'));
    expect(r.stdout).not.toContain('\x1b[');
  });
});

describe('unknown variables', () => {
  it('are all reported before anything runs, with the step location and a suggestion', async () => {
    const pb = join(dir, 'vars.yaml');
    writeFileSync(
      pb,
      `- hosts: all
  vars: {greeting: hi}
  steps:
    - file: {path: /etc/a, content: "{{ greting }}"}
    - file: {path: /etc/b, content: "{{ facts.os_famly }}"}
      when: "nope == 1"
`,
    );
    const r = await cli('apply', '-i', join(dir, 'inv.yaml'), pb);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(
      `${pb}:4:7: error: step 'file /etc/a' uses unknown variable 'greting' (in file.content) for host h1\n  hint: did you mean 'greeting'?`,
    );
    expect(r.stderr).toContain(
      `${pb}:5:7: error: step 'file /etc/b' uses unknown variable 'facts.os_famly' (in file.content)`,
    );
    expect(r.stderr).toContain(`${pb}:6:14: error: step 'file /etc/b' uses unknown variable 'nope' (in when)`);
    expect(r.stderr).toContain('nothing was run');
  });
});
