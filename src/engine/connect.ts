import { availableParallelism, homedir, userInfo } from 'node:os';
import pLimit from 'p-limit';
import type { HostEntry } from '../inventory/types.ts';
import { ChrootTransport } from '../transport/chroot.ts';
import { LocalTransport } from '../transport/local.ts';
import { SshTransport } from '../transport/ssh.ts';
import { readSshConfig, resolveRoute } from '../transport/sshroute.ts';
import type { Transport } from '../transport/types.ts';

export interface ConnectOptions {
  knownHostsFile?: string;
  acceptNewHostKeys: boolean;
  connectTimeoutMs: number;
}

/**
 * SSH handshakes in flight at once in this process, whatever --forks says. Each costs both ends
 * CPU (key exchange, signatures, sshd forking a session); started all at once on a small
 * controller they outlast the connect timeout together: forks 200 on 2 cores timed out 254 of
 * 400 hosts, the first ones too. A host waits here before its connect timeout starts.
 */
export const MAX_HANDSHAKES = Math.max(16, 8 * availableParallelism());
const handshakes = pLimit(MAX_HANDSHAKES);

/** The local user name (ssh's default user for a jump host), as OpenSSH takes it: from the passwd entry. */
function localUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER || process.env.LOGNAME || 'root';
  }
}

/** Opens the transport a host asks for; for SSH this connects (one connection per run).
 *  SSH goes where ssh_config says for the host's address, the inventory's values winning. */
export async function openTransport(h: HostEntry, opts: ConnectOptions): Promise<Transport> {
  if (h.connection === 'local') return new LocalTransport(h.root ?? '');
  if (h.connection === 'chroot') return new ChrootTransport(h.root ?? '/');
  const known = opts.knownHostsFile ?? (typeof h.vars.known_hosts === 'string' ? h.vars.known_hosts : undefined);
  const home = homedir();
  const route = resolveRoute(
    readSshConfig(h.sshConfig, home),
    { host: h.address, port: h.port, user: h.user },
    { home, localUser: localUser(), defaultUser: 'root' },
  );
  const t = new SshTransport({
    host: route.target.host,
    port: route.target.port,
    username: route.target.username,
    identity: h.identity,
    identityFiles: route.target.identityFiles,
    jumps: route.jumps,
    become: h.become,
    becomePassword: h.becomePassword,
    knownHostsFile: known,
    acceptNewHostKeys: opts.acceptNewHostKeys,
    connectTimeoutMs: opts.connectTimeoutMs,
    hostLabel: h.name,
  });
  await handshakes(() => t.connect());
  return t;
}
