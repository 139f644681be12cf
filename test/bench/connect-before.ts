/**
 * The controller's per-host work at connection set-up as it was before `bench:connect` was
 * written (git 26985eb, src/transport/knownhosts.ts and ssh.ts), kept only so that the
 * benchmark can compare it with today's in the same run: every host read and parsed the
 * known_hosts file, looked itself up in it twice (the key types to ask for, then the check),
 * each hashed entry decoding its salt and hashing the name again, and ssh2 parsed the login key.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';

interface Entry {
  marker?: string;
  hosts: string;
  key: Buffer;
}

function parse(text: string): Entry[] {
  const entries: Entry[] = [];
  for (const raw of text.split('\n')) {
    const fields = raw.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith('#')) continue;
    let marker: string | undefined;
    if (fields[0].startsWith('@')) marker = fields.shift();
    const [hosts, keyType, b64] = fields;
    if (!hosts || !keyType || !b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) continue;
    const key = Buffer.from(b64, 'base64');
    if (key.length >= 8) entries.push({ marker, hosts, key });
  }
  return entries;
}

function fieldMatches(hosts: string, name: string): boolean {
  const lname = name.toLowerCase();
  if (hosts.startsWith('|1|')) {
    const [, , salt, hash] = hosts.split('|');
    return !!salt && !!hash && createHmac('sha1', Buffer.from(salt, 'base64')).update(lname).digest('base64') === hash;
  }
  let matched = false;
  for (const pattern of hosts.split(',')) {
    const negated = pattern.startsWith('!');
    const p = (negated ? pattern.slice(1) : pattern).toLowerCase();
    const re = p
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    if (!p || !new RegExp(`^${re}$`).test(lname)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

const typeOf = (blob: Buffer) => blob.subarray(4, 4 + blob.readUInt32BE(0)).toString('latin1');

export function beforeHostSetup(
  knownHostsFile: string,
  host: string,
  port: number,
  blob: Buffer,
  keyFile: string,
): boolean {
  const entries = parse(readFileSync(knownHostsFile, 'utf8'));
  const name = port === 22 ? host.toLowerCase() : `[${host.toLowerCase()}]:${port}`;
  // The key types to ask the server for.
  void [...new Set(entries.filter((e) => !e.marker && fieldMatches(e.hosts, name)).map((e) => typeOf(e.key)))];
  // The check of the key the server offered.
  const forHost = entries.filter((e) => e.marker !== '@cert-authority' && fieldMatches(e.hosts, name));
  const ok = forHost.some((e) => !e.marker && e.key.equals(blob));
  ssh2.utils.parseKey(readFileSync(keyFile, 'utf8'));
  return ok;
}
