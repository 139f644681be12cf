import type { Client } from 'ssh2';
import { connectHop, forward, type HandshakeTiming, type HopOptions } from './sshclient.ts';

/** A jump host on the way (ssh_config's ProxyJump), logged in to with its own keys. */
export interface SshJump {
  /** The name it was asked for (the ProxyJump hop), in messages. */
  alias: string;
  host: string;
  port: number;
  username: string;
  /** Key files to try after the agent's keys (ssh_config's IdentityFile); none: the default ones. */
  identityFiles: string[];
}

export type JumpSettings = Pick<HopOptions, 'knownHostsFile' | 'acceptNewHostKeys' | 'connectTimeoutMs'>;

/** The last jump host's connection, held until released. */
export interface JumpLease {
  client: Client;
  release(): void;
}

interface Shared {
  ready: Promise<Client>;
  users: number;
  /** Ends the connection and lets go of the hop before it. */
  end(): void;
}

/**
 * Connections to jump hosts, shared by every host of a run that goes through the same chain
 * (same hops, users, keys and known_hosts): the bastion is logged in to once, and each host is
 * one more forwarded channel on it, as with OpenSSH's ControlMaster. A chain's prefix is shared
 * too. The connection ends when its last host lets go, or when it drops (each host then
 * reconnects, through a new one).
 */
const pool = new Map<string, Shared>();

const keyOf = (chain: SshJump[], s: JumpSettings) =>
  JSON.stringify([
    chain.map((j) => [j.host, j.port, j.username, j.identityFiles]),
    s.knownHostsFile,
    s.acceptNewHostKeys,
  ]);

export async function acquireJumps(
  chain: SshJump[],
  settings: JumpSettings,
  timings?: { label: string; timing: HandshakeTiming }[],
): Promise<JumpLease> {
  const key = keyOf(chain, settings);
  let shared = pool.get(key);
  if (!shared) {
    shared = open(chain, settings, key, timings);
    pool.set(key, shared);
  }
  const s = shared;
  s.users++;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    if (--s.users === 0) s.end();
  };
  try {
    return { client: await s.ready, release };
  } catch (e) {
    release();
    throw e;
  }
}

function open(
  chain: SshJump[],
  settings: JumpSettings,
  key: string,
  timings?: { label: string; timing: HandshakeTiming }[],
): Shared {
  const hop = chain[chain.length - 1];
  const label = `jump host ${hop.alias} (${hop.host}:${hop.port})`;
  let parent: JumpLease | undefined;
  let client: Client | undefined;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    if (pool.get(key) === shared) pool.delete(key);
    client?.end();
    parent?.release();
  };
  const shared: Shared = {
    users: 0,
    end,
    ready: (async () => {
      parent = chain.length > 1 ? await acquireJumps(chain.slice(0, -1), settings, timings) : undefined;
      if (ended) parent?.release();
      const sock = parent ? await forward(parent.client, hop.host, hop.port, label) : undefined;
      const timing: HandshakeTiming = {};
      timings?.push({ label, timing });
      client = await connectHop({
        host: hop.host,
        port: hop.port,
        username: hop.username,
        identityFiles: hop.identityFiles,
        label,
        ...settings,
        sock,
        timing,
      });
      if (ended) client.end();
      client.on('close', end);
      return client;
    })(),
  };
  shared.ready.catch(end);
  return shared;
}
