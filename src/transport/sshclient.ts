import type { Duplex } from 'node:stream';
import ssh2, { type Client, type ClientChannel } from 'ssh2';
import { HostKeyPolicy } from './knownhosts.ts';
import { authPlan } from './sshauth.ts';
import { UnreachableError } from './types.ts';

/** One SSH server to log in to: the host itself, or a jump host on the way. */
export interface HopOptions {
  host: string;
  port: number;
  username: string;
  identity?: string;
  identityFiles?: string[];
  /** How the server is named in messages, e.g. `node1 (10.0.0.1:22)` or `jump host bastion (…) for node1`. */
  label: string;
  knownHostsFile: string;
  acceptNewHostKeys: boolean;
  connectTimeoutMs: number;
  /** The stream to speak SSH over (a channel forwarded by the previous hop); none: TCP. */
  sock?: Duplex;
  /** Times of the set-up phases, for the connection benchmark. */
  timing?: HandshakeTiming;
}

/** Milliseconds since connect() was called at which each phase ended. */
export interface HandshakeTiming {
  /** Our own work first: known_hosts read, keys loaded. */
  prep?: number;
  tcp?: number;
  kex?: number;
  auth?: number;
}

// ssh2's default host key algorithms (ed25519 first, as Node supports it).
const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
] as const;
type HostKeyAlgorithm = (typeof HOST_KEY_ALGORITHMS)[number];

/** Logs in to one server, its host key checked against known_hosts first. */
export async function connectHop(o: HopOptions): Promise<Client> {
  const started = performance.now();
  const auth = authPlan({ identity: o.identity, identityFiles: o.identityFiles, label: o.label });
  const policy = new HostKeyPolicy({
    host: o.host,
    port: o.port,
    knownHostsFile: o.knownHostsFile,
    acceptNewHostKeys: o.acceptNewHostKeys,
    label: o.label,
  });
  const client = new ssh2.Client();
  const mark = (phase: keyof HandshakeTiming) => {
    if (o.timing) o.timing[phase] ??= performance.now() - started;
  };
  mark('prep');
  // ssh2 may emit more errors after the first (a failed login, a late socket error): never
  // unhandled, which would crash the run; the handshake's promise and 'close' report them.
  client.on('error', () => {});
  try {
    await new Promise<void>((resolve, reject) => {
      const closed = () =>
        reject(Object.assign(new Error('connection closed during the handshake'), { level: 'client-socket' }));
      client.once('ready', () => {
        client.off('error', reject).off('close', closed);
        resolve();
      });
      client.once('error', reject);
      client.once('close', closed);
      if (o.timing) {
        client.once('connect', () => mark('tcp'));
        client.once('handshake', () => mark('kex'));
      }
      client.connect({
        ...(o.sock ? { sock: o.sock } : { host: o.host, port: o.port }),
        username: o.username,
        readyTimeout: o.connectTimeoutMs,
        keepaliveInterval: 15_000,
        keepaliveCountMax: 4,
        algorithms: { serverHostKey: hostKeyAlgorithms(policy.preferredKeyTypes()) },
        hostVerifier: (key: Buffer) => policy.verify(key),
        authHandler: auth.handler(o.username),
      });
    });
    mark('auth');
  } catch (e) {
    client.end();
    if (policy.failure) throw policy.failure;
    throw new UnreachableError(connectFailure(o, e as Error & { level?: string; code?: string }, auth.tried));
  }
  return client;
}

/** A channel from `via` to host:port, to speak SSH to the next hop over. */
export function forward(via: Client, host: string, port: number, label: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    try {
      via.forwardOut('127.0.0.1', 0, host, port, (err, stream) =>
        err
          ? reject(
              new UnreachableError(
                `cannot connect to ${label}: the jump host could not open a connection to ${host}:${port} (${err.message})`,
              ),
            )
          : resolve(stream),
      );
    } catch (e) {
      reject(
        new UnreachableError(
          `cannot connect to ${label}: the jump host's connection is gone (${(e as Error).message})`,
        ),
      );
    }
  });
}

function connectFailure(o: HopOptions, e: Error & { level?: string; code?: string }, tried: string): string {
  const where = `cannot connect to ${o.label}`;
  if (e.code === 'ECONNREFUSED')
    return `${where}: connection refused (is sshd running and listening on port ${o.port}?)`;
  if (e.level === 'client-timeout' || e.code === 'ETIMEDOUT')
    return `${where}: timed out after ${o.connectTimeoutMs} ms (host down, firewalled, or wrong address/port?)`;
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return `${where}: cannot resolve host name ${o.host}`;
  if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH') return `${where}: no route to host`;
  if (e.level === 'client-authentication')
    return `${where}: authentication failed for user ${o.username} with ${tried} (is the matching public key in ~${o.username}/.ssh/authorized_keys on the host?)`;
  return `${where}: ${e.message}`;
}

/** Host key algorithms to offer, those the known_hosts file has for this host first. */
function hostKeyAlgorithms(knownTypes: string[]): HostKeyAlgorithm[] {
  const first = knownTypes.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
  const known = HOST_KEY_ALGORITHMS.filter((a) => first.includes(a)).sort(
    (a, b) => first.indexOf(a) - first.indexOf(b),
  );
  return [...known, ...HOST_KEY_ALGORITHMS.filter((a) => !known.includes(a))];
}
