import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshd, type Sshd } from '../helpers/sshd.ts';
import { CLI } from '../helpers/cli.ts';

// A planted secret must not appear on stdout, stderr or in the JSON, whatever the step
// does with it: file content (diff), command line, failing command's stderr.
const SECRET = 'pl4nted-S3cret-value';
let sshd: Sshd;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rp-secrets-'));
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('secrets', () => {
  it('never appear in any output channel', async () => {
    const inv = join(dir, 'inv.yaml');
    writeFileSync(
      inv,
      `all:
  vars:
    known_hosts: ${sshd.knownHostsFile}
    db_password: !sensitive ${SECRET}
    out: ${dir}/out
  hosts:
    node1: {address: 127.0.0.1, port: ${sshd.port}, identity: ${sshd.identity}}
`,
    );
    const pb = join(dir, 'pb.yaml');
    writeFileSync(
      pb,
      `- hosts: all
  steps:
    - name: password file
      file: {path: "{{ out }}/secret.conf", content: "password={{ db_password }}\\n", mode: "0600"}
    - name: password on a command line
      command: {cmd: "echo {{ db_password }} > {{ out }}/cmd.txt", creates: "{{ out }}/cmd.txt"}
    - name: password in a failure
      command: {cmd: "echo 'bad password {{ db_password }}' >&2; exit 3"}
`,
    );
    const outputs: string[] = [];
    for (const args of [
      ['plan'],
      ['apply', '--diff'],
      ['apply', '--json', '--diff'],
      ['apply', '--check', '--diff', '-v'],
    ]) {
      const r = await execa('node', [CLI, ...args, '-i', inv, pb], { reject: false, env: { NO_COLOR: '1' } });
      outputs.push(r.stdout, r.stderr);
      expect(r.exitCode, r.stderr).not.toBe(0); // the failing step fails every run
    }
    const all = outputs.join('\n');
    expect(all).toContain('********');
    expect(all).toContain('password in a failure');
    expect(all).not.toContain(SECRET);
    // it really was used on the host
    expect(readFileSync(join(dir, 'out/secret.conf'), 'utf8')).toBe(`password=${SECRET}\n`);
    expect(statSync(join(dir, 'out/secret.conf')).mode & 0o777).toBe(0o600);
    // no log or temp file left behind with it
    for (const f of readdirSync(join(dir, 'out'))) expect(f).not.toMatch(/rp-tmp/);
  });
});
