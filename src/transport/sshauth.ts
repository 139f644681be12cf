import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import ssh2, { type AuthHandlerMiddleware, type ParsedKey } from 'ssh2';
import { UnreachableError } from './types.ts';

export function expandHome(path: string): string {
  return path === '~' ? homedir() : path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}

/** The keys to offer one server, in order, and how to name them in a message. */
export interface AuthPlan {
  /** ssh2's authHandler: each method once, in order. */
  handler(username: string): AuthHandlerMiddleware;
  tried: string;
}

export interface AuthWanted {
  /** The inventory's `identity:`: this key only (it must be readable and unencrypted). */
  identity?: string;
  /** ssh_config's IdentityFile values: those that exist, after the agent's keys. */
  identityFiles?: string[];
  /** Who the keys are for, in messages. */
  label: string;
}

type Method = { type: 'agent'; agent: string } | { type: 'publickey'; key: ParsedKey };

/** Parsed keys by path: a fleet logs in with the same key everywhere, and parsing it (an
 *  RSA key especially) for every host costs more than the rest of our side of the set-up. */
const parsedKeys = new Map<string, { stamp: string; key: ParsedKey | Error }>();

function parsed(path: string): ParsedKey | Error {
  const st = statSync(path);
  const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
  const hit = parsedKeys.get(path);
  if (hit?.stamp === stamp) return hit.key;
  const result = ssh2.utils.parseKey(readFileSync(path));
  const key = result instanceof Error ? result : Array.isArray(result) ? result[0] : result;
  parsedKeys.set(path, { stamp, key });
  return key;
}

/** ~/.ssh/id_ed25519, id_ecdsa, id_rsa: OpenSSH's defaults when nothing names a key. */
const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

/**
 * With `identity`: that key only. Otherwise the ssh-agent's keys when SSH_AUTH_SOCK is set,
 * then the key files (ssh_config's IdentityFile, else OpenSSH's default names) that exist; a
 * passphrase-protected file is left to the agent when there is one.
 */
export function authPlan(w: AuthWanted): AuthPlan {
  const methods: Method[] = [];
  const names: string[] = [];
  const agent = process.env.SSH_AUTH_SOCK || undefined;
  const unusable = (path: string, why: string) =>
    new UnreachableError(
      `cannot connect to ${w.label}: cannot use identity ${path}: ${why} (for an encrypted key, load it into ssh-agent and leave \`identity:\` unset)`,
    );
  if (w.identity) {
    const path = expandHome(w.identity);
    let key: ParsedKey | Error;
    try {
      key = parsed(path);
    } catch (e) {
      throw new UnreachableError(
        `${w.label}: cannot read SSH identity ${path}: ${(e as Error).message}. Fix the host's \`identity:\` path.`,
      );
    }
    if (key instanceof Error) throw unusable(path, key.message);
    methods.push({ type: 'publickey', key });
    names.push(`identity ${path}`);
  } else {
    if (agent) {
      methods.push({ type: 'agent', agent });
      names.push(`ssh-agent (${agent})`);
    }
    const configured = w.identityFiles?.length ? w.identityFiles.map(expandHome) : undefined;
    for (const path of configured ?? DEFAULT_KEYS.map((n) => join(homedir(), '.ssh', n))) {
      let key: ParsedKey | Error;
      try {
        key = parsed(path);
      } catch {
        continue; // as OpenSSH: a key file that is not there is skipped
      }
      if (key instanceof Error) {
        if (agent) continue;
        throw unusable(path, key.message);
      }
      methods.push({ type: 'publickey', key });
      names.push(`identity ${path}`);
    }
    if (!methods.length) {
      throw new UnreachableError(
        `${w.label}: no SSH identity to log in with${configured ? ` (none of the IdentityFile keys exists: ${configured.join(', ')})` : ''}: set \`identity:\` for the host in the inventory, or start an ssh-agent holding the key.`,
      );
    }
  }
  return {
    tried: names.join(' and '),
    handler: (username) => {
      let next = 0;
      return ((_left: unknown, _partial: unknown, cb: (m: unknown) => void) => {
        const m = methods[next++];
        cb(m ? { ...m, username } : false);
      }) as AuthHandlerMiddleware;
    },
  };
}
