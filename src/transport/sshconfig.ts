/**
 * The part of OpenSSH's client configuration (ssh_config(5)) that says how to reach a host:
 * `Host` blocks (patterns with `*`, `?` and `!` negation), `HostName`, `Port`, `User`,
 * `IdentityFile` and `ProxyJump`, with OpenSSH's rule that the first value obtained for an
 * option wins (IdentityFile collects every value). Pure: the caller reads the file.
 *
 * Not read: `Include` and `Match` blocks (a `Match` block's options are skipped, except
 * `Match all`), and every other keyword.
 */

export class SshConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshConfigError';
  }
}

type Keyword = 'hostname' | 'port' | 'user' | 'identityfile' | 'proxyjump';
const KEYWORDS: ReadonlySet<string> = new Set<Keyword>(['hostname', 'port', 'user', 'identityfile', 'proxyjump']);

interface Block {
  /** undefined: options before the first Host line (they apply to every host); null: a Match block that never matches. */
  patterns?: string[] | null;
  options: { keyword: Keyword; value: string; line: number }[];
}

export interface SshConfig {
  file: string;
  blocks: Block[];
}

/** What the config says for one host; values as written (tokens not yet expanded). */
export interface SshHostConfig {
  hostName?: string;
  port?: number;
  user?: string;
  /** Every IdentityFile that applies, in order. */
  identityFiles: string[];
  /** As written (`a,b`); `none` when the config turns jumping off. */
  proxyJump?: string;
}

/** Splits a line into words: whitespace-separated, `"..."` quoting, `#` starting a comment. */
function words(line: string, where: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i])) i++;
    if (i >= line.length || line[i] === '#') break;
    if (line[i] === '"') {
      const end = line.indexOf('"', i + 1);
      if (end < 0) throw new SshConfigError(`${where}: unterminated quote`);
      out.push(line.slice(i + 1, end));
      i = end + 1;
    } else {
      let j = i;
      while (j < line.length && !/\s/.test(line[j])) j++;
      out.push(line.slice(i, j));
      i = j;
    }
  }
  return out;
}

export function parseSshConfig(text: string, file: string): SshConfig {
  const blocks: Block[] = [{ options: [] }];
  text.split('\n').forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    // `Keyword=value` and `Keyword = value` are the same as `Keyword value`.
    const line = raw.replace(/^(\s*[A-Za-z]+)\s*=\s*/, '$1 ');
    const [key, ...args] = words(line, where);
    if (!key) return;
    const keyword = key.toLowerCase();
    if (keyword === 'host') {
      if (!args.length) throw new SshConfigError(`${where}: Host needs at least one pattern`);
      blocks.push({ patterns: args, options: [] });
    } else if (keyword === 'match') {
      blocks.push({ patterns: args.length === 1 && args[0].toLowerCase() === 'all' ? ['*'] : null, options: [] });
    } else if (KEYWORDS.has(keyword)) {
      if (args.length !== 1 && keyword !== 'proxyjump')
        throw new SshConfigError(`${where}: ${key} takes one value, got ${args.length}`);
      const value = args.join('');
      if (!value) throw new SshConfigError(`${where}: ${key} needs a value`);
      if (keyword === 'port' && !validPort(value))
        throw new SshConfigError(`${where}: Port must be a number from 1 to 65535, got ${value}`);
      blocks[blocks.length - 1].options.push({ keyword: keyword as Keyword, value, line: i + 1 });
    }
  });
  return { file, blocks };
}

const validPort = (v: string) => /^\d{1,5}$/.test(v) && Number(v) >= 1 && Number(v) <= 65535;

/** One pattern against a host name: `*` any run of characters, `?` one; no case. */
export function patternMatches(pattern: string, name: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(name);
}

/** A Host line's patterns: some positive pattern matches and no negated one does. */
export function hostMatches(patterns: readonly string[], name: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (patternMatches(p.slice(1), name)) return false;
    } else if (patternMatches(p, name)) matched = true;
  }
  return matched;
}

/** The options for `host` (the name as the user wrote it: the alias, not the HostName). */
export function lookupHost(config: SshConfig, host: string): SshHostConfig {
  const out: SshHostConfig = { identityFiles: [] };
  for (const block of config.blocks) {
    if (block.patterns === null) continue;
    if (block.patterns && !hostMatches(block.patterns, host)) continue;
    for (const { keyword, value } of block.options) {
      if (keyword === 'identityfile') out.identityFiles.push(value);
      else if (keyword === 'hostname') out.hostName ??= value;
      else if (keyword === 'port') out.port ??= Number(value);
      else if (keyword === 'user') out.user ??= value;
      else if (keyword === 'proxyjump') out.proxyJump ??= value;
    }
  }
  return out;
}

export interface TokenValues {
  /** %h: the remote host name (after HostName). */
  host: string;
  /** %p */
  port: number;
  /** %r: the remote user. */
  remoteUser: string;
  /** %u: the local user. */
  localUser: string;
  /** %d: the local home folder. */
  home: string;
}

/** Expands `%%`, `%h`, `%p`, `%r`, `%u`, `%d` and a leading `~`, as OpenSSH does for IdentityFile. */
export function expandTokens(value: string, t: TokenValues, what: string): string {
  const expanded = value.replace(/%(.?)/g, (_all, c: string) => {
    switch (c) {
      case '%':
        return '%';
      case 'h':
        return t.host;
      case 'p':
        return String(t.port);
      case 'r':
        return t.remoteUser;
      case 'u':
        return t.localUser;
      case 'd':
        return t.home;
      default:
        throw new SshConfigError(`${what} ${value}: the token %${c} is not supported (only %%, %h, %p, %r, %u, %d)`);
    }
  });
  return expanded === '~' ? t.home : expanded.startsWith('~/') ? `${t.home}/${expanded.slice(2)}` : expanded;
}

/** `HostName` may use `%h` (the name as written) and `%%`. */
export function expandHostName(value: string, host: string): string {
  return value.replace(/%(.?)/g, (_, c: string) => {
    if (c === '%') return '%';
    if (c === 'h') return host;
    throw new SshConfigError(`HostName ${value}: the token %${c} is not supported (only %h and %%)`);
  });
}

export interface JumpSpec {
  host: string;
  port?: number;
  user?: string;
}

/** One ProxyJump hop: `[user@]host[:port]` or `ssh://[user@]host[:port]`, host may be `[v6]`. */
export function parseJump(spec: string): JumpSpec {
  const bad = () => new SshConfigError(`ProxyJump hop "${spec}" is not [user@]host[:port]`);
  let rest = spec.startsWith('ssh://') ? spec.slice('ssh://'.length).replace(/\/$/, '') : spec;
  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (!user) throw bad();
  }
  let host = rest;
  let port: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (v6) [, host, port] = v6;
  else if (rest.includes(':')) [host, port] = rest.split(':', 2);
  if (!host || /[\s/]/.test(host) || (port !== undefined && !validPort(port)) || (!v6 && rest.split(':').length > 2))
    throw bad();
  return { host, user, ...(port !== undefined ? { port: Number(port) } : {}) };
}
