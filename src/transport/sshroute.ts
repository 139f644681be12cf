import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  SshConfigError,
  expandHostName,
  expandTokens,
  lookupHost,
  parseJump,
  parseSshConfig,
  type SshConfig,
} from './sshconfig.ts';

/** One SSH server on the way to a host (a jump host) or the host itself. */
export interface SshEndpoint {
  /** The name the endpoint was asked for (inventory address or ProxyJump hop), for messages. */
  alias: string;
  /** Where to connect: the HostName, else the alias. */
  host: string;
  port: number;
  username: string;
  /** Key files from ssh_config (tokens and `~` expanded); missing files are skipped, as OpenSSH does. */
  identityFiles: string[];
}

/** How to reach a host: through `jumps` in order, then `target`. */
export interface SshRoute {
  target: SshEndpoint;
  jumps: SshEndpoint[];
}

/** What the inventory says; a value given here wins over ssh_config. */
export interface SshWanted {
  host: string;
  port?: number;
  user?: string;
}

export interface RouteEnv {
  home: string;
  localUser: string;
  /** User of the target when neither the inventory nor ssh_config names one. */
  defaultUser: string;
}

/** A hop of a ProxyJump chain can itself jump (its own ProxyJump); a cycle ends here. */
const MAX_DEPTH = 8;

/** Resolves `wanted` through ssh_config (undefined: none) into the endpoints to connect to. */
export function resolveRoute(config: SshConfig | undefined, wanted: SshWanted, env: RouteEnv): SshRoute {
  return route(config, wanted, env, env.defaultUser, true, 0);
}

function route(
  config: SshConfig | undefined,
  wanted: SshWanted,
  env: RouteEnv,
  defaultUser: string,
  followJump: boolean,
  depth: number,
): SshRoute {
  if (depth > MAX_DEPTH) {
    throw new SshConfigError(
      `ProxyJump in ${config?.file} nests more than ${MAX_DEPTH} deep at ${wanted.host}: a jump host that jumps through itself? (exclude it, e.g. \`Host * !bastion\`)`,
    );
  }
  const found = config ? lookupHost(config, wanted.host) : { identityFiles: [] };
  const host = found.hostName ? expandHostName(found.hostName, wanted.host) : wanted.host;
  const port = wanted.port ?? found.port ?? 22;
  const username = wanted.user ?? found.user ?? defaultUser;
  const tokens = { host, port, remoteUser: username, localUser: env.localUser, home: env.home };
  const identityFiles = found.identityFiles.map((f) =>
    expandTokens(f, tokens, `IdentityFile for ${wanted.host} in ${config?.file}:`),
  );
  const target: SshEndpoint = { alias: wanted.host, host, port, username, identityFiles };
  const spec = followJump ? found.proxyJump : undefined;
  if (!spec || spec.toLowerCase() === 'none') return { target, jumps: [] };
  // Like `ssh -J a,b`: the first hop is reached as the config says (its own ProxyJump too);
  // each later hop through the one before it.
  const hops = spec.split(',').map((s) => parseJump(s.trim()));
  const first = route(config, hops[0], env, env.localUser, true, depth + 1);
  const jumps = [...first.jumps, first.target];
  for (const hop of hops.slice(1)) jumps.push(route(config, hop, env, env.localUser, false, depth + 1).target);
  return { target, jumps };
}

/** Parsed ssh_config files by path, re-read when the file changes: every host of a run
 *  looks its route up in the same file. */
const configs = new Map<string, { stamp: string; config: SshConfig | undefined }>();

/**
 * The ssh_config file to read: `file` (the inventory's `ssh_config:`), else $RAMSTER_SSH_CONFIG,
 * else ~/.ssh/config; `none` reads none. A missing default file is no config; a missing file
 * that was named is an error.
 */
export function readSshConfig(file: string | undefined, home: string): SshConfig | undefined {
  const named = file ?? (process.env.RAMSTER_SSH_CONFIG || undefined);
  if (named === 'none') return undefined;
  const path =
    named === undefined
      ? join(home, '.ssh', 'config')
      : named === '~'
        ? home
        : named.startsWith('~/')
          ? join(home, named.slice(2))
          : named;
  let stamp: string;
  try {
    const st = statSync(path);
    stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
  } catch (e) {
    if (named === undefined && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SshConfigError(
      `cannot read the ssh_config file ${path}: ${(e as Error).message}${named === file ? " (the inventory's `ssh_config:`)" : ' ($RAMSTER_SSH_CONFIG)'}`,
    );
  }
  const hit = configs.get(path);
  if (hit?.stamp === stamp) return hit.config;
  const config = parseSshConfig(readFileSync(path, 'utf8'), path);
  configs.set(path, { stamp, config });
  return config;
}
