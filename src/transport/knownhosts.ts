import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { HostKeyError } from './types.ts';
import { shq } from '../shell.ts';

/** One usable line of an OpenSSH known_hosts file. */
export interface KnownHostEntry {
  file: string;
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** The host field as written: comma list of patterns, or one `|1|salt|hash` entry. */
  hosts: string;
  keyType: string;
  key: Buffer;
  /** For a hashed host field: its salt and hash, decoded once. */
  hashed?: { salt: Buffer; hash: Buffer };
}

export type HostKeyCheck =
  | { status: 'match'; entry: KnownHostEntry }
  | { status: 'unknown' }
  | { status: 'changed'; stale: KnownHostEntry[] }
  | { status: 'revoked'; entry: KnownHostEntry };

/** Parses known_hosts text; lines that OpenSSH would skip (comments, garbage) are skipped. */
export function parseKnownHosts(text: string, file: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith('#')) return;
    let marker: KnownHostEntry['marker'];
    if (fields[0].startsWith('@')) {
      if (fields[0] === '@revoked') marker = 'revoked';
      else if (fields[0] === '@cert-authority') marker = 'cert-authority';
      else return;
      fields.shift();
    }
    const [hosts, keyType, b64] = fields;
    if (!hosts || !keyType || !b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) return;
    const key = Buffer.from(b64, 'base64');
    if (key.length < 8) return;
    const [, , salt, hash] = hosts.startsWith('|1|') ? hosts.split('|') : [];
    const hashed = salt && hash ? { salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') } : undefined;
    entries.push({ file, line: i + 1, marker, hosts, keyType, key, ...(hashed ? { hashed } : {}) });
  });
  return entries;
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** Whether a known_hosts host field names `name` (hashed entry, or comma list with
 *  `*`/`?` wildcards and `!` negations, compared case-insensitively). */
export function hostFieldMatches(hosts: string, name: string): boolean {
  const lname = name.toLowerCase();
  if (hosts.startsWith('|1|')) {
    const [, , salt, hash] = hosts.split('|');
    if (!salt || !hash) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(lname).digest('base64');
    return mac === hash;
  }
  let matched = false;
  for (const pattern of hosts.split(',')) {
    const negated = pattern.startsWith('!');
    const p = (negated ? pattern.slice(1) : pattern).toLowerCase();
    if (!p || !globMatch(p, lname)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** Whether an entry names `lname` (lower case); a hashed entry costs one HMAC-SHA1. */
function entryMatches(e: KnownHostEntry, lname: string): boolean {
  if (e.hashed) return createHmac('sha1', e.hashed.salt).update(lname).digest().equals(e.hashed.hash);
  return hostFieldMatches(e.hosts, lname);
}

/** The entries (all but @cert-authority ones) that name host:port. */
export function entriesFor(entries: KnownHostEntry[], host: string, port: number): KnownHostEntry[] {
  const name = knownHostsName(host, port);
  return entries.filter((e) => e.marker !== 'cert-authority' && entryMatches(e, name));
}

function globMatch(pattern: string, text: string): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === text;
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(text);
}

/** Key type of an SSH wire-format public key blob: its first length-prefixed string. */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) return '';
  const len = blob.readUInt32BE(0);
  if (len > blob.length - 4) return '';
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** OpenSSH's fingerprint format: `SHA256:` + unpadded base64 of the blob's SHA-256. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Checks an offered host key against the entries for `host`:`port`. */
export function checkHostKey(entries: KnownHostEntry[], host: string, port: number, blob: Buffer): HostKeyCheck {
  const type = keyTypeOfBlob(blob);
  const forHost = entriesFor(entries, host, port);
  const revoked = forHost.find((e) => e.marker === 'revoked' && e.key.equals(blob));
  if (revoked) return { status: 'revoked', entry: revoked };
  const sameType = forHost.filter((e) => !e.marker && keyTypeOfBlob(e.key) === type);
  const match = sameType.find((e) => e.key.equals(blob));
  if (match) return { status: 'match', entry: match };
  if (sameType.length) return { status: 'changed', stale: sameType };
  return { status: 'unknown' };
}

/** Key types already recorded for the host, so the client can ask the server for one of
 *  those first (as OpenSSH does) instead of tripping over a host that has several keys. */
export function knownKeyTypes(entries: KnownHostEntry[], host: string, port: number): string[] {
  const types = entriesFor(entries, host, port)
    .filter((e) => !e.marker)
    .map((e) => keyTypeOfBlob(e.key));
  return [...new Set(types)];
}

/** Parsed files by path, re-read when the file changes (size, time, inode): every host of a
 *  run checks its key against the same file. */
const parsedFiles = new Map<string, { stamp: string; entries: KnownHostEntry[] }>();

/** Reads a known_hosts file; a missing file is an empty one. */
export function readKnownHosts(file: string): KnownHostEntry[] {
  let stamp: string;
  let text: string;
  try {
    const st = statSync(file);
    stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    const hit = parsedFiles.get(file);
    if (hit?.stamp === stamp) return hit.entries;
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new HostKeyError(`cannot read known_hosts file ${file}: ${(err as Error).message}`);
  }
  const entries = parseKnownHosts(text, file);
  parsedFiles.set(file, { stamp, entries });
  return entries;
}

export function knownHostsLine(host: string, port: number, blob: Buffer): string {
  return `${knownHostsName(host, port)} ${keyTypeOfBlob(blob)} ${blob.toString('base64')}`;
}

/** Appends the key for host:port, creating the file (0600) and its folder (0700) if needed. */
export function appendKnownHost(file: string, host: string, port: number, blob: Buffer): void {
  const dir = dirname(file);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  closeSync(openSync(file, 'a', 0o600));
  const size = statSync(file).size;
  const needsNewline = size > 0 && readFileSync(file).subarray(size - 1)[0] !== 0x0a;
  appendFileSync(file, `${needsNewline ? '\n' : ''}${knownHostsLine(host, port, blob)}\n`);
}

export interface HostKeyPolicyOptions {
  host: string;
  port: number;
  knownHostsFile: string;
  acceptNewHostKeys: boolean;
  /** How the host is called in messages, e.g. `node1 (10.0.0.1:22)`. */
  label: string;
}

/** Decides whether to trust the key a server offers; on refusal keeps the error to throw. */
export class HostKeyPolicy {
  failure?: HostKeyError;
  /** Set when an unknown key was recorded because of acceptNewHostKeys. */
  added = false;
  /** The file's entries for this host: looked up once (a hashed entry costs an HMAC per host). */
  readonly entries: KnownHostEntry[];

  constructor(private readonly o: HostKeyPolicyOptions) {
    this.entries = entriesFor(readKnownHosts(o.knownHostsFile), o.host, o.port);
  }

  preferredKeyTypes(): string[] {
    return knownKeyTypes(this.entries, this.o.host, this.o.port);
  }

  verify(blob: Buffer): boolean {
    const { host, port, knownHostsFile: file, label } = this.o;
    const check = checkHostKey(this.entries, host, port, blob);
    const offered = `${keyTypeOfBlob(blob)} key ${fingerprint(blob)}`;
    switch (check.status) {
      case 'match':
        return true;
      case 'revoked':
        this.failure = new HostKeyError(
          `${label}: the host offers ${offered}, which is marked @revoked in ${file}:${check.entry.line}; refusing to connect.\n` +
            `Give the host a new host key, then record it after checking its fingerprint.`,
        );
        return false;
      case 'changed': {
        const expected = check.stale.map(
          (e) => `  expected: ${e.keyType} key ${fingerprint(e.key)}  (${e.file}:${e.line})`,
        );
        this.failure = new HostKeyError(
          `${label}: HOST KEY CHANGED, refusing to connect (someone may be intercepting the connection, or the host was reinstalled).\n` +
            `${expected.join('\n')}\n  offered:  ${offered}\n` +
            `If the change is legitimate, check the new fingerprint on the host's console (ssh-keygen -lf /etc/ssh/ssh_host_${shortType(blob)}_key.pub), ` +
            `remove the stale entry with: ssh-keygen -R ${shq(knownHostsName(host, port))} -f ${file}\n` +
            `and connect again (the new key is then unknown: --accept-new-host-keys records it). --accept-new-host-keys never replaces a changed key.`,
        );
        return false;
      }
      case 'unknown':
        if (this.o.acceptNewHostKeys) {
          appendKnownHost(file, host, port, blob);
          this.added = true;
          return true;
        }
        this.failure = new HostKeyError(
          `${label}: unknown host key, refusing to connect (no entry for ${knownHostsName(host, port)} in ${file}).\n` +
            `The host offers ${offered}.\n` +
            `Check this fingerprint on the host's console (ssh-keygen -lf /etc/ssh/ssh_host_${shortType(blob)}_key.pub), then either\n` +
            `  run again with --accept-new-host-keys to record it, or\n` +
            `  ssh-keyscan -p ${port} ${host} >> ${file}`,
        );
        return false;
    }
  }
}

function shortType(blob: Buffer): string {
  const t = keyTypeOfBlob(blob);
  return t === 'ssh-ed25519'
    ? 'ed25519'
    : t.startsWith('ecdsa-')
      ? 'ecdsa'
      : t === 'ssh-rsa'
        ? 'rsa'
        : t.replace(/^ssh-/, '');
}
