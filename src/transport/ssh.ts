import { randomBytes } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import type { Client, ClientChannel } from 'ssh2';
import { expandHome } from './sshauth.ts';
import { connectHop, forward, type HandshakeTiming } from './sshclient.ts';
import { acquireJumps, type JumpLease, type SshJump } from './sshjumps.ts';
import {
  HostKeyError,
  UnreachableError,
  interruptedResult,
  type ExecOptions,
  type ExecResult,
  type Reconnectable,
  type Transport,
} from './types.ts';
import { shq } from '../shell.ts';

export type { SshJump };

export interface SshTransportOptions {
  host: string;
  port?: number;
  username: string;
  /** Private key path (`~` expanded): this key only. Without it: ssh-agent, then `identityFiles`
   *  or ~/.ssh/id_{ed25519,ecdsa,rsa}. */
  identity?: string;
  /** ssh_config's IdentityFile values for the host. */
  identityFiles?: string[];
  /** Jump hosts to go through, in order (ssh_config's ProxyJump). */
  jumps?: SshJump[];
  /** Run every command through sudo (skipped when the login user is root). */
  become?: boolean;
  /** Sensitive: fed to `sudo -S` on stdin, never logged or put on a command line. */
  becomePassword?: string;
  knownHostsFile?: string;
  /** Record the key of a host that has no known_hosts entry yet (a changed key is still refused). */
  acceptNewHostKeys?: boolean;
  connectTimeoutMs?: number;
  /** Name used in messages, e.g. the inventory name. */
  hostLabel?: string;
}

const RECONNECT_DELAYS_MS = [1000, 2000, 5000];
/** Grace between the remote `timeout`'s TERM and its KILL. */
const KILL_AFTER_S = 2;
const PGID_LINE = /^rp-pgid (\d+)\n/;

/** One command in flight on a channel of the connection: its output so far and how it ends. */
interface Running {
  readonly client: Client;
  readonly opts: ExecOptions;
  readonly started: number;
  readonly out: Buffer[];
  readonly err: Buffer[];
  channel?: ClientChannel;
  exit?: { code: number };
  timer?: NodeJS.Timeout;
  done: boolean;
  /** The command's process group (its `timeout`), as the command's first stderr line says. */
  pgid?: number;
  /** Settles exec's promise, the first time only. */
  finish: (result: ExecResult | Error) => void;
  /** Stops the command, for interrupt(). */
  stop: () => void;
}

/** sudo refused to run commands for `become` (wrong or missing password, no sudoers entry):
 *  the host fails with what to fix; never retried. */
export class BecomeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BecomeError';
  }
}

/** One persistent SSH connection to a host; every exec is one channel on it. */
export class SshTransport implements Transport, Reconnectable {
  readonly kind = 'ssh' as const;
  readonly root = '';
  readonly target: string;
  roundTrips = 0;

  private readonly host: string;
  private readonly port: number;
  private readonly username: string;
  private readonly label: string;
  private readonly knownHostsFile: string;
  private readonly connectTimeoutMs: number;
  private client?: Client;
  /** The shared connection to the last jump host of the current connection. */
  private jumpLease?: JumpLease;
  /** Set-up phase times of the last connection (each hop's, then the host's), for benchmarks. */
  lastTiming: { label: string; timing: HandshakeTiming }[] = [];
  private connecting?: Promise<Client>;
  /** Fails every exec in flight when the connection drops. */
  private readonly inFlight = new Set<(err: Error) => void>();
  /** Stops each command in flight, for interrupt(). */
  private readonly stoppers = new Set<() => void>();
  private interrupted = false;

  /** Kept out of `opts` so that printing the transport cannot show it. */
  readonly #becomePassword?: string;
  private readonly opts: Omit<SshTransportOptions, 'becomePassword'>;

  constructor({ becomePassword, ...opts }: SshTransportOptions) {
    this.opts = opts;
    this.#becomePassword = becomePassword;
    this.host = opts.host;
    this.port = opts.port ?? 22;
    this.username = opts.username;
    this.target = `${opts.username}@${opts.host}:${this.port}`;
    const where = `${opts.host}:${this.port}`;
    this.label = opts.hostLabel && opts.hostLabel !== opts.host ? `${opts.hostLabel} (${where})` : where;
    this.knownHostsFile = expandHome(opts.knownHostsFile ?? '~/.ssh/known_hosts');
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    if (becomePassword?.includes('\n'))
      throw new Error(`${this.label}: the become password must not contain a newline`);
  }

  /** Opens the connection now (exec also does it on first use). */
  async connect(): Promise<void> {
    await this.ensureConnected();
  }

  async exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.interrupted && !opts.afterInterrupt) return interruptedResult(this.target);
    const client = await this.ensureConnected();
    this.roundTrips++;
    const { command, stdinPrefix } = this.remoteCommand(script, opts.timeoutMs);
    const data =
      opts.stdin === undefined ? Buffer.alloc(0) : Buffer.isBuffer(opts.stdin) ? opts.stdin : Buffer.from(opts.stdin);
    const stdin = stdinPrefix ? Buffer.concat([stdinPrefix, data]) : data;
    const started = Date.now();

    return new Promise<ExecResult>((resolve, reject) => {
      const run = this.running(client, opts, started, resolve, reject);
      if (opts.timeoutMs !== undefined)
        run.timer = setTimeout(() => this.timedOut(run), opts.timeoutMs + (KILL_AFTER_S + 1) * 1000);
      try {
        client.exec(command, (openErr, ch) => this.channelOpened(run, stdin, openErr, ch));
      } catch (e) {
        run.finish(this.lostError(e as Error)); // ssh2 throws when the socket is already gone
      }
    });
  }

  /** A command about to start on client: it ends once, by finish, whichever way comes first
   *  (its channel closes, the connection drops, it times out, interrupt() stops it). */
  private running(
    client: Client,
    opts: ExecOptions,
    started: number,
    resolve: (r: ExecResult) => void,
    reject: (e: Error) => void,
  ): Running {
    let run: Running;
    const onLost = (e: Error) => run.finish(e);
    const stop = () => this.stopRunning(run);
    const finish = (result: ExecResult | Error) => {
      if (run.done) return;
      run.done = true;
      clearTimeout(run.timer);
      this.inFlight.delete(onLost);
      this.stoppers.delete(stop);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    run = { client, opts, started, out: [], err: [], done: false, finish, stop };
    this.inFlight.add(onLost);
    if (!opts.afterInterrupt) this.stoppers.add(stop);
    return run;
  }

  /** The output so far, without the process group line. */
  private runText(run: Running): { stdout: string; stderr: string } {
    return {
      stdout: Buffer.concat(run.out).toString('utf8'),
      stderr: Buffer.concat(run.err).toString('utf8').replace(PGID_LINE, ''),
    };
  }

  private withTimeoutNote(stderr: string, timeoutMs: number | undefined): string {
    return `${stderr}${stderr && !stderr.endsWith('\n') ? '\n' : ''}timed out after ${timeoutMs} ms on ${this.label}`;
  }

  /** interrupt() of one command. TERM reaches the remote `timeout`, which passes it to the
   *  command's whole process group; a command still there after the grace is KILLed and given up on. */
  private stopRunning(run: Running): void {
    const { pgid } = run;
    if (pgid) {
      const kill = `kill -TERM -${pgid} 2>/dev/null; sleep ${KILL_AFTER_S}; kill -KILL -${pgid} 2>/dev/null; true`;
      void this.exec(kill, { afterInterrupt: true, timeoutMs: 30_000 }).catch(() => undefined);
    }
    setTimeout(
      () => {
        try {
          run.channel?.close();
        } catch {
          /* gone */
        }
        run.finish(interruptedResult(this.target));
      },
      (KILL_AFTER_S + 10) * 1000,
    ).unref();
  }

  /** The command outlived its timeout and the remote `timeout`'s grace. */
  private timedOut(run: Running): void {
    // The remote `timeout` wrapper stops the command's process group first (TERM, so
    // scripts can clean up, then KILL); this only covers a host that stopped answering.
    try {
      run.channel?.signal('KILL');
      run.channel?.close();
    } catch {
      /* channel already gone */
    }
    const t = this.runText(run);
    run.finish({ code: 124, stdout: t.stdout, stderr: this.withTimeoutNote(t.stderr, run.opts.timeoutMs) });
  }

  /** The command's channel opened (or failed to): collect its output and exit status, feed it stdin. */
  private channelOpened(run: Running, stdin: Buffer, openErr: Error | undefined, ch: ClientChannel): void {
    if (openErr) {
      run.finish(
        this.client === run.client
          ? new Error(`${this.label}: cannot start a command: ${openErr.message}`)
          : this.lostError(openErr),
      );
      return;
    }
    if (run.done) {
      ch.close();
      return;
    }
    run.channel = ch;
    if (this.interrupted && !run.opts.afterInterrupt) run.stop();
    ch.on('data', (b: Buffer) => run.out.push(b));
    ch.stderr.on('data', (b: Buffer) => {
      run.err.push(b);
      if (run.pgid === undefined)
        run.pgid = Number(PGID_LINE.exec(Buffer.concat(run.err).toString('latin1'))?.[1]) || undefined;
    });
    ch.on('error', () => {}); // writes after the remote side exited: the exit status tells
    ch.on('exit', (code: number | null, signal?: string) => {
      // Killed by a signal: report it the way a shell does (128 + signal number).
      const signo = signal
        ? osConstants.signals[(signal.startsWith('SIG') ? signal : `SIG${signal}`) as NodeJS.Signals]
        : undefined;
      run.exit = { code: code ?? (signo ? 128 + signo : 255) };
    });
    ch.on('close', () => this.channelClosed(run));
    ch.end(stdin);
  }

  /** The channel closed: the command's result, or why there is none. */
  private channelClosed(run: Running): void {
    const { opts, exit } = run;
    const t = this.runText(run);
    if (this.interrupted && !opts.afterInterrupt && exit?.code !== 0) {
      run.finish(interruptedResult(this.target));
      return;
    }
    if (exit) {
      const refused = exit.code === 1 ? this.sudoRefusal(t.stderr) : undefined;
      if (refused) {
        run.finish(refused);
        return;
      }
      const timeoutHit =
        exit.code === 124 && opts.timeoutMs !== undefined && Date.now() - run.started >= opts.timeoutMs - 50;
      run.finish({
        code: exit.code,
        stdout: t.stdout,
        stderr: timeoutHit ? this.withTimeoutNote(t.stderr, opts.timeoutMs) : t.stderr,
      });
    } else if (this.client !== run.client) {
      run.finish(this.lostError());
    } else {
      run.finish({
        code: 255,
        stdout: t.stdout,
        stderr: `${t.stderr}remote command on ${this.label} ended without an exit status`,
      });
    }
  }

  /** Stops every command in flight: its whole process group on the host is killed (TERM,
   *  then KILL) by a command of its own; the lock release runs after it (afterInterrupt). */
  interrupt(): void {
    this.interrupted = true;
    for (const stop of [...this.stoppers]) stop();
  }

  async reconnect(opts: { timeoutMs: number; connectTimeoutMs: number }): Promise<void> {
    this.drop();
    const deadline = Date.now() + opts.timeoutMs;
    let attempt = 0;
    for (;;) {
      try {
        this.connecting = this.open(opts.connectTimeoutMs);
        await this.connecting;
        return;
      } catch (e) {
        this.connecting = undefined;
        if (e instanceof HostKeyError) throw e;
        const wait = RECONNECT_DELAYS_MS[Math.min(attempt++, RECONNECT_DELAYS_MS.length - 1)];
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new UnreachableError(
            `${this.label} did not accept SSH connections again within ${Math.round(opts.timeoutMs / 1000)} s (last error: ${(e as Error).message})`,
          );
        }
        await new Promise((r) => setTimeout(r, Math.min(wait, left)));
      }
    }
  }

  async close(): Promise<void> {
    this.drop();
  }

  private drop(): void {
    const client = this.client;
    const lease = this.jumpLease;
    this.client = undefined;
    this.jumpLease = undefined;
    this.connecting = undefined;
    for (const fail of [...this.inFlight]) fail(this.lostError());
    client?.end();
    lease?.release();
  }

  private ensureConnected(): Promise<Client> {
    if (this.client) return Promise.resolve(this.client);
    if (!this.connecting) {
      this.connecting = this.open(this.connectTimeoutMs);
      this.connecting.catch(() => {
        this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  private async open(connectTimeoutMs: number): Promise<Client> {
    const settings = {
      knownHostsFile: this.knownHostsFile,
      acceptNewHostKeys: this.opts.acceptNewHostKeys ?? false,
      connectTimeoutMs,
    };
    const timings: { label: string; timing: HandshakeTiming }[] = [];
    let lease: JumpLease | undefined;
    let client: Client;
    try {
      lease = this.opts.jumps?.length ? await acquireJumps(this.opts.jumps, settings, timings) : undefined;
      const sock = lease ? await forward(lease.client, this.host, this.port, this.label) : undefined;
      const timing: HandshakeTiming = {};
      timings.push({ label: this.label, timing });
      client = await connectHop({
        host: this.host,
        port: this.port,
        username: this.username,
        identity: this.opts.identity,
        identityFiles: this.opts.identityFiles,
        label: this.label,
        ...settings,
        sock,
        timing,
      });
    } catch (e) {
      lease?.release();
      if (lease || !this.opts.jumps?.length || !(e instanceof Error)) throw e;
      // A jump host's failure, said for this host (the jump connection is shared).
      const Same = e.constructor as new (message: string) => Error;
      throw new Same(`on the way to ${this.label}: ${e.message}`);
    }
    const lost = () => {
      if (this.client !== client) return;
      this.client = undefined;
      this.connecting = undefined;
      this.jumpLease = undefined;
      lease?.release();
      for (const fail of [...this.inFlight]) fail(this.lostError());
    };
    client.on('end', lost);
    client.on('close', lost);
    this.jumpLease = lease;
    this.client = client;
    this.lastTiming = timings;
    return client;
  }

  /** sudo's own refusal (wrong password, none given, no sudoers entry) before the command
   *  ran, as an error saying which inventory setting to fix. sudo exits 1 and its messages
   *  are its last stderr lines; the password is never part of them. */
  private sudoRefusal(stderr: string): BecomeError | undefined {
    if (!this.opts.become || this.username === 'root') return undefined;
    const lines = stderr.trim().split('\n');
    const last = lines[lines.length - 1] ?? '';
    const who = `sudo on ${this.label} refused user ${this.username}`;
    if (
      /^sudo: (\d+ incorrect password attempts?|no password was provided)$/.test(last) &&
      this.#becomePassword !== undefined
    )
      return new BecomeError(
        `${who}: the become password is wrong (${last}). Fix \`become_password\` for this host in the inventory.`,
      );
    if (/^sudo: a (terminal is required to read the )?password( is required)?/.test(last))
      return new BecomeError(
        `${who}: sudo asks for a password and the inventory gives none (${last}). Set \`become_password: !sensitive ...\` for this host, or give the user NOPASSWD in sudoers.`,
      );
    if (/is not in the sudoers file|is not allowed to execute|may not run sudo/.test(last))
      return new BecomeError(
        `${who}: the user may not run commands as root (${last.replace(/^sudo: /, '').replace(/\.$/, '')}). Add a sudoers entry for ${this.username}, or log in as root.`,
      );
    return undefined;
  }

  private lostError(cause?: Error): UnreachableError {
    return new UnreachableError(`connection to ${this.label} was lost${cause ? ` (${cause.message})` : ''}`);
  }

  /** The exec request line: `sh -c script`, under `timeout` and `sudo` when asked. */
  private remoteCommand(script: string, timeoutMs?: number): { command: string; stdinPrefix?: Buffer } {
    const sudo = this.opts.become && this.username !== 'root';
    const password = sudo ? this.#becomePassword : undefined;
    // The first stderr line names the command's process group (`timeout` leads it), so
    // interrupt() can stop everything the command started.
    let prelude = 'echo "rp-pgid $PPID" >&2; LC_ALL=C; export LC_ALL\n';
    let stdinPrefix: Buffer | undefined;
    if (password !== undefined) {
      // sudo -S reads the password line only when it needs one (not with NOPASSWD or a cached
      // ticket), so a marker line follows it and the script skips up to the marker.
      const marker = `rp-${randomBytes(12).toString('hex')}`;
      stdinPrefix = Buffer.from(`${password}\n${marker}\n`);
      prelude += `IFS= read -r rp_l || exit 125; [ "$rp_l" = ${marker} ] || IFS= read -r rp_l; unset rp_l\n`;
    }
    let argv = ['sh', '-c', prelude + script];
    // Always under `timeout` (0: no limit): it leads a process group of its own, which
    // interrupt() kills.
    argv = [
      'timeout',
      '-k',
      String(KILL_AFTER_S),
      timeoutMs === undefined ? '0' : `${Math.max(timeoutMs, 1) / 1000}s`,
      ...argv,
    ];
    if (sudo) argv = password !== undefined ? ['sudo', '-S', '-p', '', ...argv] : ['sudo', '-n', ...argv];
    return { command: argv.map(shq).join(' '), stdinPrefix };
  }
}
