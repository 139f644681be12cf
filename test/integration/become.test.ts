import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshd, type Sshd } from '../helpers/sshd.ts';
import { CLI } from '../helpers/cli.ts';

// `become` with a sudo password, on a REAL sshd: a non-root login user whose sudoers entry
// asks for its password (added to the sshd's private /etc overlay only). The password is a
// planted secret: it must reach sudo, and nothing else — not stdout, stderr, --json, diffs,
// nor any file the run wrote (on the host or the known_hosts file on the controller).
const PASSWORD = 'b3come-Pl4nted-pw';
const TOKEN = 'sens1tive-T0ken-value';
let sshd: Sshd;
let dir: string;
const started = Date.now();

const inventory = (name: string, extra: string, knownHosts = sshd.knownHostsFile) => {
  const f = join(dir, `${name}.yaml`);
  writeFileSync(
    f,
    `all:
  vars:
    known_hosts: ${knownHosts}
    out: ${dir}/out
    api_token: !sensitive ${TOKEN}
  hosts:
    node1: {address: 127.0.0.1, port: ${sshd.port}, identity: ${sshd.identity}, ${extra}}
`,
  );
  return f;
};
// Other suites apply to this machine's sshd at the same time: the host lock is this machine's
// /var/lib/ramster-provision/lock, so wait for it rather than fail.
const cli = (...args: string[]) =>
  execa('node', [CLI, ...args, ...(args[0] === 'apply' ? ['--lock-wait', '60'] : [])], {
    reject: false,
    env: { NO_COLOR: '1' },
  });

/** Every regular file under `root` (symlinks not followed). */
function filesUnder(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rp-become-')); // 0700 root: only sudo gets the user in
  sshd = await startSshd({
    privateEtc: join(dir, 'etc'),
    users: [
      { name: 'rpbecome', password: PASSWORD, sudo: 'password' },
      { name: 'rpnosudo', password: PASSWORD },
    ],
  });
});
afterAll(async () => {
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('become with a sudo password (real sshd, real sudo)', () => {
  const pb = () => {
    const f = join(dir, 'pb.yaml');
    writeFileSync(
      f,
      `- hosts: all
  steps:
    - name: root-only file
      file: {path: "{{ out }}/app.conf", content: "token={{ api_token }}\\n", mode: "0640", owner: root, group: root}
      notify: [mark handled]
    - name: who runs the commands
      command: {cmd: "mkdir -p {{ out }} && id -u > {{ out }}/uid", creates: "{{ out }}/uid"}
    - name: a file in /etc
      file: {path: /etc/rp-become.conf, content: "managed\\n", mode: "0644"}
  handlers:
    - name: mark handled
      command: {cmd: "echo handled > {{ out }}/handled"}
`,
    );
    return f;
  };

  it('a wrong password, none, or no sudoers entry: the host fails (exit 3) saying what to fix; nothing leaks or changes', async () => {
    const cases: [string, string, RegExp][] = [
      [
        'wrong',
        `user: rpbecome, become: true, become_password: !sensitive wrong-${PASSWORD}`,
        /refused user rpbecome: the become password is wrong \(sudo: \d incorrect password attempts?\)\. Fix `become_password` for this host/,
      ],
      [
        'none',
        'user: rpbecome, become: true',
        /refused user rpbecome: sudo asks for a password and the inventory gives none .*Set `become_password/,
      ],
      [
        'nosudo',
        `user: rpnosudo, become: true, become_password: !sensitive ${PASSWORD}`,
        /refused user rpnosudo: the user may not run commands as root \(rpnosudo is not in the sudoers file\)\. Add a sudoers entry/,
      ],
    ];
    for (const [name, settings, message] of cases) {
      const r = await cli('apply', '-i', inventory(`inv-${name}`, settings), pb(), '--json');
      expect(r.exitCode, `${name}: ${r.stderr}`).toBe(3);
      const doc = JSON.parse(r.stdout);
      const host = doc.hosts[0];
      expect(host.status).toBe('failed');
      expect(host.error, name).toMatch(message);
      // refused before any step ran: still one failure in the host's counts and the totals
      expect(host.steps, name).toEqual([]);
      expect(host.counts, name).toEqual({ ok: 0, changed: 0, failed: 1, skipped: 0, unreachable: 0 });
      expect(doc.totals, name).toMatchObject({ hosts: 1, failed: 1, unreachable: 0 });
      expect(r.stderr, name).toMatch(/^TOTAL +hosts=1 ok=0 changed=0 failed=1 skipped=0 unreachable=0 /m);
      expect(r.stderr, name).toMatch(message); // the human recap on stderr with --json
      for (const text of [r.stdout, r.stderr]) {
        expect(text).not.toContain(PASSWORD);
        expect(text).not.toContain(TOKEN);
      }
    }
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('converges as root through sudo; the planted password appears in no output channel and no file the run wrote', async () => {
    // A known_hosts file of its own, learned on the first run (opt-in), then checked.
    const knownHosts = join(dir, 'learned_known_hosts');
    const inv = inventory('inv', `user: rpbecome, become: true, become_password: !sensitive ${PASSWORD}`, knownHosts);
    const outputs: string[] = [];
    const run = async (args: string[], code: number) => {
      const r = await cli(...args);
      outputs.push(r.stdout, r.stderr);
      expect(r.exitCode, `${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(code);
      return r;
    };

    const refused = await run(['plan', '-i', inv, pb()], 1);
    expect(refused.stdout + refused.stderr).toMatch(/SHA256:/);
    expect(existsSync(knownHosts)).toBe(false);

    const plan = await run(['plan', '-i', inv, pb(), '--accept-new-host-keys'], 2);
    expect(plan.stdout).toContain('+token=********');
    expect(readFileSync(knownHosts, 'utf8')).toBe(`${sshd.hostKeyLine}\n`);

    const applied = await run(['apply', '-i', inv, pb(), '--diff', '--json'], 0);
    const host = JSON.parse(applied.stdout).hosts[0];
    expect(host.target).toBe(`rpbecome@127.0.0.1:${sshd.port}`);
    expect(host.steps.map((s: { step: string; status: string }) => [s.step, s.status])).toEqual([
      ['root-only file', 'changed'],
      ['who runs the commands', 'changed'],
      ['a file in /etc', 'changed'],
      ['mark handled', 'changed'],
    ]);
    expect(host.facts.user).toBe('root');
    await run(['apply', '-i', inv, pb(), '--diff', '-v'], 0);
    const again = await run(['apply', '-i', inv, pb(), '--json'], 0);
    expect(JSON.parse(again.stdout).totals).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });
    await run(['plan', '-i', inv, pb()], 0);

    // Really done as root, through sudo: the login user cannot even enter the folder.
    expect(readFileSync(join(dir, 'out/uid'), 'utf8')).toBe('0\n');
    expect(readFileSync(join(dir, 'out/handled'), 'utf8')).toBe('handled\n');
    expect(readFileSync(join(dir, 'out/app.conf'), 'utf8')).toBe(`token=${TOKEN}\n`);
    const st = statSync(join(dir, 'out/app.conf'));
    expect([st.mode & 0o777, st.uid, st.gid]).toEqual([0o640, 0, 0]);
    expect(readFileSync(join(dir, 'etc/upper/rp-become.conf'), 'utf8')).toBe('managed\n'); // the overlay's /etc
    expect(existsSync('/etc/rp-become.conf')).toBe(false);

    const all = outputs.join('\n');
    expect(all).toContain('********');
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain(TOKEN);
    // Every file the runs wrote: on the host (output folder, /etc overlay, the engine's state
    // in /var/lib/ramster-provision, the login user's home) and the learned known_hosts.
    const written = [
      ...filesUnder(join(dir, 'out')),
      ...filesUnder(join(dir, 'etc/upper')),
      ...filesUnder('/var/lib/ramster-provision').filter((f) => statSync(f).mtimeMs >= started),
      ...filesUnder(join(sshd.dir, 'home-rpbecome')),
      knownHosts,
    ];
    expect(written).toContain(join(dir, 'out/app.conf'));
    for (const f of written) expect(readFileSync(f).includes(PASSWORD), f).toBe(false);
    for (const f of filesUnder(join(dir, 'out'))) expect(f).not.toMatch(/rp-tmp/);
  });
});
