import type { HostEntry } from '../inventory/types.ts';
import { ChrootTransport } from '../transport/chroot.ts';
import { LocalTransport } from '../transport/local.ts';
import { SshTransport } from '../transport/ssh.ts';
import type { Transport } from '../transport/types.ts';

export interface ConnectOptions {
  knownHostsFile?: string;
  acceptNewHostKeys: boolean;
  connectTimeoutMs: number;
}

/** Opens the transport a host asks for; for SSH this connects (one connection per run). */
export async function openTransport(h: HostEntry, opts: ConnectOptions): Promise<Transport> {
  if (h.connection === 'local') return new LocalTransport(h.root ?? '');
  if (h.connection === 'chroot') return new ChrootTransport(h.root ?? '/');
  const known = opts.knownHostsFile ?? (typeof h.vars.known_hosts === 'string' ? h.vars.known_hosts : undefined);
  const t = new SshTransport({
    host: h.address,
    port: h.port,
    username: h.user ?? 'root',
    identity: h.identity,
    become: h.become,
    becomePassword: h.becomePassword,
    knownHostsFile: known,
    acceptNewHostKeys: opts.acceptNewHostKeys,
    connectTimeoutMs: opts.connectTimeoutMs,
    hostLabel: h.name,
  });
  await t.connect();
  return t;
}
