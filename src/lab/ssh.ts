import { execa } from 'execa';
import { LabError } from './errors.ts';
import { commandFailed } from '../shell.ts';

/** How the host reaches one guest with the real OpenSSH client, host key checking on. */
export interface SshTarget {
  name: string;
  port: number;
  identity: string;
  knownHosts: string;
}

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

function sshArgs(t: SshTarget, connectTimeoutS: number): string[] {
  return [
    '-F',
    '/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${t.knownHosts}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    `ConnectTimeout=${connectTimeoutS}`,
    '-o',
    'ServerAliveInterval=5',
    '-o',
    'ServerAliveCountMax=3',
    '-o',
    'LogLevel=ERROR',
    '-i',
    t.identity,
    '-p',
    String(t.port),
    'root@127.0.0.1',
  ];
}

/** Runs a shell script on the guest as root. Exit code 255 means ssh itself failed. */
export async function sshRun(
  t: SshTarget,
  script: string,
  opts: { timeoutMs?: number; connectTimeoutS?: number; input?: string } = {},
): Promise<SshResult> {
  const r = await execa('ssh', [...sshArgs(t, opts.connectTimeoutS ?? 10), script], {
    reject: false,
    timeout: opts.timeoutMs ?? 120_000,
    input: opts.input,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
  });
  if (r.timedOut) return { code: 124, stdout: String(r.stdout ?? ''), stderr: `ssh to ${t.name} timed out` };
  return { code: r.exitCode ?? 255, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** Like sshRun, but throws unless the script exits 0; returns stdout. */
export async function sshCheck(
  t: SshTarget,
  script: string,
  opts: { timeoutMs?: number; input?: string } = {},
): Promise<string> {
  const r = await sshRun(t, script, opts);
  if (r.code !== 0) throw new LabError(commandFailed(`${t.name}: \`${script}\``, r, { lines: Infinity }));
  return r.stdout;
}

export async function readBootId(t: SshTarget, connectTimeoutS = 5): Promise<string | undefined> {
  const r = await sshRun(t, 'cat /proc/sys/kernel/random/boot_id', { timeoutMs: 20_000, connectTimeoutS });
  const id = r.stdout.trim();
  return r.code === 0 && id ? id : undefined;
}

/** Polls until the guest answers over SSH (and, when given, with a boot_id other than
 *  `notBootId`); returns the boot_id. Host-key mismatches fail at once instead of waiting. */
export async function waitForSsh(
  t: SshTarget,
  opts: { timeoutMs: number; notBootId?: string; isAlive?: () => boolean },
): Promise<string> {
  const end = Date.now() + opts.timeoutMs;
  let lastError = '';
  while (Date.now() < end) {
    const r = await sshRun(t, 'cat /proc/sys/kernel/random/boot_id', { timeoutMs: 20_000, connectTimeoutS: 5 });
    const id = r.stdout.trim();
    if (r.code === 0 && id && id !== opts.notBootId) return id;
    lastError = r.stderr.trim();
    if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/.test(lastError)) {
      throw new LabError(
        `${t.name}: SSH host key does not match ${t.knownHosts}`,
        'recreate the lab with `lab down` and `lab up --fresh`',
      );
    }
    if (opts.isAlive && !opts.isAlive()) throw new LabError(`${t.name}: QEMU exited while waiting for SSH`);
    await new Promise((res) => setTimeout(res, 2000));
  }
  throw new LabError(
    `${t.name}: no SSH answer on 127.0.0.1:${t.port} after ${Math.round(opts.timeoutMs / 1000)} s${lastError ? ` (${lastError})` : ''}`,
    'look at the guest console log in the lab directory',
  );
}
