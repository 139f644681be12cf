import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { hostname, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatherFacts } from '../../src/transport/facts.ts';
import { fingerprint } from '../../src/transport/knownhosts.ts';
import { SshTransport, type SshTransportOptions } from '../../src/transport/ssh.ts';
import { HostKeyError, UnreachableError } from '../../src/transport/types.ts';
import { freePort, startSshd, type Sshd } from '../helpers/sshd.ts';

let sshd: Sshd;
let scratch: string;
const open: SshTransport[] = [];

function transport(server: Sshd, extra: Partial<SshTransportOptions> = {}): SshTransport {
  const t = new SshTransport({
    host: server.host,
    port: server.port,
    username: server.user,
    identity: server.identity,
    knownHostsFile: server.knownHostsFile,
    connectTimeoutMs: 5000,
    ...extra,
  });
  open.push(t);
  return t;
}

const keyOf = (knownHostsLine: string) => Buffer.from(knownHostsLine.split(' ')[2], 'base64');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure');
}

beforeAll(async () => {
  sshd = await startSshd();
  scratch = mkdtempSync(join(tmpdir(), 'rp-ssh-test-'));
});

afterAll(async () => {
  await Promise.all(open.map((t) => t.close()));
  await sshd?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('exec over a real sshd', () => {
  it('returns exit codes, stdout and stderr exactly', async () => {
    const t = transport(sshd);
    expect(await t.exec(`printf 'a\\n\\nb'; printf 'warn \\342\\202\\254' >&2; exit 7`)).toEqual({
      code: 7,
      stdout: 'a\n\nb',
      stderr: 'warn €',
    });
    expect(await t.exec('true')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect((await t.exec('exit 255')).code).toBe(255);
    expect((await t.exec('kill -TERM $$')).code).toBe(143);
    // sh, not the login shell, runs the script; LC_ALL=C like the local transport.
    expect(
      (await t.exec('echo "$LC_ALL"; [ "$(readlink /proc/$$/exe)" = "$(readlink -f /bin/sh)" ] && echo sh')).stdout,
    ).toBe('C\nsh\n');
  });

  it('feeds stdin exactly: text without final newline and 1 MiB of base64', async () => {
    const t = transport(sshd);
    expect((await t.exec('cat', { stdin: 'line1\n  line2 é' })).stdout).toBe('line1\n  line2 é');
    const payload = randomBytes(1024 * 1024);
    const b64 = payload.toString('base64');
    const r = await t.exec('base64 -d | sha256sum | cut -d" " -f1', { stdin: b64 });
    expect(r).toEqual({ code: 0, stdout: `${sha256(payload)}\n`, stderr: '' });
    const echoed = await t.exec('cat', { stdin: Buffer.from(b64) });
    expect(echoed.stdout.length).toBe(b64.length);
    expect(echoed.stdout === b64).toBe(true);
  });

  it('counts one round trip per command and keeps one connection', async () => {
    const t = transport(sshd);
    await t.connect();
    expect(t.roundTrips).toBe(0);
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await t.exec('echo "$SSH_CONNECTION"')).stdout);
    expect(t.roundTrips).toBe(4);
    expect(seen.size).toBe(1);
    expect([...seen][0]).toMatch(new RegExp(`^127\\.0\\.0\\.1 \\d+ 127\\.0\\.0\\.1 ${sshd.port}\\n$`));
  });

  it('times out with code 124, kills the remote command and stays usable', async () => {
    const t = transport(sshd);
    await t.connect();
    const started = Date.now();
    const r = await t.exec('echo started; sleep 31.5; echo never', { timeoutMs: 700 });
    expect(Date.now() - started).toBeLessThan(31_500); // the timeout ended it, not the sleep
    expect(r.code).toBe(124);
    expect(r.stdout).toBe('started\n');
    expect(r.stderr).toContain(`timed out after 700 ms on 127.0.0.1:${sshd.port}`);
    await new Promise((res) => setTimeout(res, 500));
    const left = await t.exec(`pgrep -f 'sleep 3[1].5' || echo none`);
    expect(left.stdout).toBe('none\n');
    expect((await t.exec('echo ok', { timeoutMs: 5000 })).stdout).toBe('ok\n');
  });

  it('gathers facts in one round trip', async () => {
    const t = transport(sshd);
    const before = t.roundTrips;
    const facts = await gatherFacts(t);
    expect(t.roundTrips - before).toBe(1);
    expect(facts.user).toBe('root');
    expect(facts.kernel_release).toBe(release());
    expect(facts.hostname).toBe(hostname());
    expect(facts.os_family).toBe('debian');
    expect(facts.boot_id).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('host key checking', () => {
  it('refuses an unknown host by default, telling the fingerprint and how to proceed', async () => {
    const file = join(scratch, 'unknown', 'known_hosts');
    const t = transport(sshd, { knownHostsFile: file });
    const err = await failure(t.exec('true'));
    expect(err).toBeInstanceOf(HostKeyError);
    expect(err.message).toContain(fingerprint(keyOf(sshd.hostKeyLine)));
    expect(err.message).toContain('--accept-new-host-keys');
    expect(err.message).toContain(`ssh-keyscan -p ${sshd.port} 127.0.0.1 >> ${file}`);
    expect(t.roundTrips).toBe(0);
    expect(() => statSync(file)).toThrow();
  });

  it('records an unknown key with accept-new, then connects without the opt-in', async () => {
    const file = join(scratch, 'accept', 'known_hosts');
    const first = transport(sshd, { knownHostsFile: file, acceptNewHostKeys: true });
    expect((await first.exec('echo in')).stdout).toBe('in\n');
    expect(readFileSync(file, 'utf8')).toBe(`${sshd.hostKeyLine}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const second = transport(sshd, { knownHostsFile: file });
    expect((await second.exec('echo again')).stdout).toBe('again\n');
    expect(readFileSync(file, 'utf8')).toBe(`${sshd.hostKeyLine}\n`);
  });

  it('asks the server for the key type known_hosts has when the host has several', async () => {
    const multi = await startSshd({ hostKeyTypes: ['ed25519', 'ecdsa'] });
    try {
      const file = join(scratch, 'ecdsa_known_hosts');
      writeFileSync(file, `${multi.hostKeyLines[1]}\n`);
      const t = transport(multi, { knownHostsFile: file });
      expect((await t.exec('echo ok')).stdout).toBe('ok\n');
      await t.close();
    } finally {
      await multi.stop();
    }
  });

  it('always refuses a changed key, even with accept-new, showing both fingerprints', async () => {
    const original = await startSshd();
    await original.kill();
    const impostor = await startSshd({ port: original.port });
    try {
      const before = readFileSync(original.knownHostsFile, 'utf8');
      const t = transport(impostor, { knownHostsFile: original.knownHostsFile, acceptNewHostKeys: true });
      const err = await failure(t.exec('true'));
      expect(err).toBeInstanceOf(HostKeyError);
      expect(err.message).toContain('HOST KEY CHANGED');
      expect(err.message).toContain(fingerprint(keyOf(original.hostKeyLine)));
      expect(err.message).toContain(fingerprint(keyOf(impostor.hostKeyLine)));
      expect(err.message).toContain(`${original.knownHostsFile}:1`);
      expect(readFileSync(original.knownHostsFile, 'utf8')).toBe(before);
    } finally {
      await impostor.stop();
      await original.stop();
    }
  });
});

describe('unreachable hosts', () => {
  it('fails fast on a closed port, naming host:port and the reason', async () => {
    const port = await freePort();
    const t = transport(sshd, { port });
    const started = Date.now();
    const err = await failure(t.exec('true'));
    expect(Date.now() - started).toBeLessThan(10_000); // refused at once: not the 10 s connect timeout
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err).not.toBeInstanceOf(HostKeyError);
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(err.message).toContain('connection refused');
  });

  it('times out on a port that never speaks SSH', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const t = transport(sshd, { port, connectTimeoutMs: 600 });
      const started = Date.now();
      const err = await failure(t.connect());
      expect(Date.now() - started).toBeLessThan(10_000); // its 600 ms, not the default 10 s
      expect(err).toBeInstanceOf(UnreachableError);
      expect(err.message).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}: timed out after 600 ms`));
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('says which identity failed authentication', async () => {
    const stranger = join(scratch, 'stranger_key');
    const other = await startSshd();
    try {
      // The other server's user key is not authorized on ours.
      writeFileSync(stranger, readFileSync(other.identity));
      const t = transport(sshd, { identity: stranger, hostLabel: 'node7' });
      const err = await failure(t.exec('true'));
      expect(err).toBeInstanceOf(UnreachableError);
      expect(err.message).toContain(`node7 (127.0.0.1:${sshd.port})`);
      expect(err.message).toContain('authentication failed for user root');
      expect(err.message).toContain(stranger);
    } finally {
      await other.stop();
    }
  });
});

describe('identities', () => {
  it('expands ~ and falls back to ~/.ssh/id_ed25519 without an identity', async () => {
    const home = join(scratch, 'home');
    mkdirSync(join(home, '.ssh'), { recursive: true });
    copyFileSync(sshd.identity, join(home, '.ssh', 'id_ed25519'));
    copyFileSync(sshd.knownHostsFile, join(home, 'kh'));
    const saved = { HOME: process.env.HOME, SSH_AUTH_SOCK: process.env.SSH_AUTH_SOCK };
    process.env.HOME = home;
    delete process.env.SSH_AUTH_SOCK;
    try {
      const explicit = transport(sshd, { identity: '~/.ssh/id_ed25519', knownHostsFile: '~/kh' });
      expect((await explicit.exec('echo a')).stdout).toBe('a\n');
      const fallback = transport(sshd, { identity: undefined, knownHostsFile: '~/kh' });
      expect((await fallback.exec('echo b')).stdout).toBe('b\n');
    } finally {
      process.env.HOME = saved.HOME;
      if (saved.SSH_AUTH_SOCK !== undefined) process.env.SSH_AUTH_SOCK = saved.SSH_AUTH_SOCK;
    }
  });

  it('explains an identity it cannot read or use', async () => {
    const missing = join(scratch, 'no_such_key');
    const err = await failure(transport(sshd, { identity: missing }).connect());
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err.message).toContain(`cannot read SSH identity ${missing}`);
    const encrypted = join(scratch, 'encrypted_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret', '-f', encrypted], { stdio: 'ignore' });
    const err2 = await failure(transport(sshd, { identity: encrypted }).connect());
    expect(err2).toBeInstanceOf(UnreachableError);
    expect(err2.message).toContain(`identity ${encrypted}`);
    expect(err2.message).toContain('ssh-agent');
  });
});

describe('connection loss and reconnect', () => {
  it('throws UnreachableError when the connection drops mid-command', async () => {
    const server = await startSshd();
    try {
      const t = transport(server);
      await t.connect();
      const running = failure(t.exec('sleep 20'));
      await new Promise((r) => setTimeout(r, 300));
      await server.kill();
      const err = await running;
      expect(err).toBeInstanceOf(UnreachableError);
      expect(err.message).toContain(`connection to 127.0.0.1:${server.port} was lost`);
    } finally {
      await server.stop();
    }
  });

  it('reconnects with backoff once sshd is back on the same port with the same key', async () => {
    const server = await startSshd();
    try {
      const t = transport(server);
      const firstConn = (await t.exec('echo "$SSH_CONNECTION"')).stdout;
      await server.kill();
      const restarted = new Promise<void>((resolve, reject) =>
        setTimeout(() => server.restart().then(resolve, reject), 2500),
      );
      const started = Date.now();
      await t.reconnect({ timeoutMs: 20_000, connectTimeoutMs: 2000 });
      await restarted;
      expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
      const r = await t.exec('echo "$SSH_CONNECTION"');
      expect(r.code).toBe(0);
      expect(r.stdout).not.toBe(firstConn);
    } finally {
      await server.stop();
    }
  });

  it('gives up after timeoutMs when the host does not come back', async () => {
    const server = await startSshd();
    try {
      const t = transport(server);
      await t.connect();
      await server.kill();
      const started = Date.now();
      const err = await failure(t.reconnect({ timeoutMs: 2500, connectTimeoutMs: 1000 }));
      expect(Date.now() - started).toBeLessThan(20_000); // gave up after its 2.5 s (timers: load barely moves it)
      expect(err).toBeInstanceOf(UnreachableError);
      expect(err.message).toContain(`127.0.0.1:${server.port} did not accept SSH connections again within 3 s`);
      expect(err.message).toContain('connection refused');
    } finally {
      await server.stop();
    }
  });
});
