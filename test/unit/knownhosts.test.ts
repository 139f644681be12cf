import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HostKeyPolicy,
  checkHostKey,
  fingerprint,
  hostFieldMatches,
  keyTypeOfBlob,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
} from '../../src/transport/knownhosts.ts';
import { HostKeyError } from '../../src/transport/types.ts';

interface Key {
  type: string;
  b64: string;
  blob: Buffer;
  pubFile: string;
}

let dir: string;
let ed1: Key;
let ed2: Key;
let ecdsa: Key;

function makeKey(name: string, type: string): Key {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', file], { stdio: 'ignore' });
  const [keyType, b64] = readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/);
  return { type: keyType, b64, blob: Buffer.from(b64, 'base64'), pubFile: `${file}.pub` };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rp-knownhosts-'));
  ed1 = makeKey('ed1', 'ed25519');
  ed2 = makeKey('ed2', 'ed25519');
  ecdsa = makeKey('ec', 'ecdsa');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('known_hosts parsing', () => {
  it('skips comments, blank and malformed lines and keeps line numbers and markers', () => {
    const text = [
      '# a comment',
      '',
      `web1,10.0.0.1 ${ed1.type} ${ed1.b64} admin@box`,
      'garbage-without-key',
      `@revoked * ${ed2.type} ${ed2.b64}`,
      `@cert-authority *.example.org ${ecdsa.type} ${ecdsa.b64}`,
      `@unknown-marker web2 ${ed1.type} ${ed1.b64}`,
      `   [db]:2222 ${ecdsa.type} ${ecdsa.b64}`,
    ].join('\n');
    const entries = parseKnownHosts(text, '/kh');
    expect(entries.map((e) => [e.line, e.marker, e.hosts, e.keyType])).toEqual([
      [3, undefined, 'web1,10.0.0.1', 'ssh-ed25519'],
      [5, 'revoked', '*', 'ssh-ed25519'],
      [6, 'cert-authority', '*.example.org', 'ecdsa-sha2-nistp256'],
      [8, undefined, '[db]:2222', 'ecdsa-sha2-nistp256'],
    ]);
    expect(entries[0].key.equals(ed1.blob)).toBe(true);
    expect(entries[0].file).toBe('/kh');
  });

  it('reads the key type from the blob itself', () => {
    expect(keyTypeOfBlob(ed1.blob)).toBe('ssh-ed25519');
    expect(keyTypeOfBlob(ecdsa.blob)).toBe('ecdsa-sha2-nistp256');
    expect(keyTypeOfBlob(Buffer.from([0, 0, 0, 99, 1]))).toBe('');
  });

  it('formats fingerprints exactly like ssh-keygen -l', () => {
    const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', ed1.pubFile], { encoding: 'utf8' });
    expect(out.split(' ')[1]).toBe(fingerprint(ed1.blob));
    expect(fingerprint(ed1.blob)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

describe('host name matching', () => {
  it('uses the bare name on port 22 and [host]:port elsewhere', () => {
    expect(knownHostsName('Web1', 22)).toBe('web1');
    expect(knownHostsName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222');
    expect(hostFieldMatches('127.0.0.1', '[127.0.0.1]:2222')).toBe(false);
    expect(hostFieldMatches('[127.0.0.1]:2222', '[127.0.0.1]:2222')).toBe(true);
    expect(hostFieldMatches('[127.0.0.1]:2222', '[127.0.0.1]:2223')).toBe(false);
  });

  it('handles comma lists, wildcards, negation and case', () => {
    expect(hostFieldMatches('web1,10.0.0.1', '10.0.0.1')).toBe(true);
    expect(hostFieldMatches('web1,10.0.0.1', 'web2')).toBe(false);
    expect(hostFieldMatches('WEB1', 'web1')).toBe(true);
    expect(hostFieldMatches('*.example.org,!bad.example.org', 'n1.example.org')).toBe(true);
    expect(hostFieldMatches('*.example.org,!bad.example.org', 'bad.example.org')).toBe(false);
    expect(hostFieldMatches('node?', 'node7')).toBe(true);
    expect(hostFieldMatches('node?', 'node17')).toBe(false);
    expect(hostFieldMatches('a.b', 'axb')).toBe(false);
  });

  it('matches entries hashed by ssh-keygen -H', () => {
    const file = join(dir, 'hashed_known_hosts');
    writeFileSync(file, `web1 ${ed1.type} ${ed1.b64}\n[127.0.0.1]:2222 ${ecdsa.type} ${ecdsa.b64}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const entries = parseKnownHosts(readFileSync(file, 'utf8'), file);
    expect(entries).toHaveLength(2);
    expect(entries.every((e) => e.hosts.startsWith('|1|'))).toBe(true);
    expect(checkHostKey(entries, 'web1', 22, ed1.blob).status).toBe('match');
    expect(checkHostKey(entries, 'WEB1', 22, ed1.blob).status).toBe('match');
    expect(checkHostKey(entries, '127.0.0.1', 2222, ecdsa.blob).status).toBe('match');
    expect(checkHostKey(entries, 'web2', 22, ed1.blob).status).toBe('unknown');
    expect(checkHostKey(entries, '127.0.0.1', 22, ecdsa.blob).status).toBe('unknown');
    expect(checkHostKey(entries, 'web1', 22, ed2.blob)).toMatchObject({ status: 'changed', stale: [{ line: 1 }] });
  });
});

describe('checkHostKey', () => {
  const kh = () =>
    parseKnownHosts(
      [
        `web1 ${ed1.type} ${ed1.b64}`,
        `@cert-authority * ${ed2.type} ${ed2.b64}`,
        `[web2]:2200 ${ecdsa.type} ${ecdsa.b64}`,
        `@revoked web3 ${ed2.type} ${ed2.b64}`,
        `web3 ${ed2.type} ${ed2.b64}`,
      ].join('\n'),
      '/etc/kh',
    );

  it('matches the recorded key', () => {
    expect(checkHostKey(kh(), 'web1', 22, ed1.blob)).toMatchObject({ status: 'match', entry: { line: 1 } });
  });

  it('reports a different key of the same type as changed, with the stale line', () => {
    expect(checkHostKey(kh(), 'web1', 22, ed2.blob)).toMatchObject({
      status: 'changed',
      stale: [{ file: '/etc/kh', line: 1 }],
    });
  });

  it('treats a key of a type the host has no entry for as unknown', () => {
    expect(checkHostKey(kh(), 'web2', 2200, ed1.blob).status).toBe('unknown');
    expect(checkHostKey(kh(), 'web1', 22, ecdsa.blob).status).toBe('unknown');
  });

  it('ignores @cert-authority lines and refuses @revoked keys even when also listed', () => {
    expect(checkHostKey(kh(), 'web9', 22, ed2.blob).status).toBe('unknown');
    expect(checkHostKey(kh(), 'web3', 22, ed2.blob)).toMatchObject({ status: 'revoked', entry: { line: 4 } });
  });

  it('lists the key types recorded for a host', () => {
    expect(knownKeyTypes(kh(), 'web2', 2200)).toEqual(['ecdsa-sha2-nistp256']);
    expect(knownKeyTypes(kh(), 'web1', 22)).toEqual(['ssh-ed25519']);
    expect(knownKeyTypes(kh(), 'nowhere', 22)).toEqual([]);
  });
});

describe('HostKeyPolicy', () => {
  const policy = (file: string, acceptNewHostKeys: boolean, port = 2222) =>
    new HostKeyPolicy({
      host: '127.0.0.1',
      port,
      knownHostsFile: file,
      acceptNewHostKeys,
      label: `n1 (127.0.0.1:${port})`,
    });

  it('refuses an unknown host by default, showing the fingerprint and how to proceed', () => {
    const file = join(dir, 'absent', 'known_hosts');
    const p = policy(file, false);
    expect(p.verify(ed1.blob)).toBe(false);
    expect(p.failure).toBeInstanceOf(HostKeyError);
    const msg = p.failure!.message;
    expect(msg).toContain(fingerprint(ed1.blob));
    expect(msg).toContain('--accept-new-host-keys');
    expect(msg).toContain(`ssh-keyscan -p 2222 127.0.0.1 >> ${file}`);
    expect(() => statSync(file)).toThrow();
  });

  it('records an unknown key with accept-new, creating the folder 0700 and file 0600', () => {
    const sub = join(dir, 'new-ssh-dir');
    const file = join(sub, 'known_hosts');
    const p = policy(file, true);
    expect(p.verify(ed1.blob)).toBe(true);
    expect(p.added).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(`[127.0.0.1]:2222 ssh-ed25519 ${ed1.b64}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(sub).mode & 0o777).toBe(0o700);
    // A later run finds it without the opt-in.
    expect(policy(file, false).verify(ed1.blob)).toBe(true);
  });

  it('writes the bare host name for port 22 and keeps a file without final newline intact', () => {
    const file = join(dir, 'kh22');
    writeFileSync(file, `other ${ecdsa.type} ${ecdsa.b64}`);
    expect(policy(file, true, 22).verify(ed1.blob)).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(`other ${ecdsa.type} ${ecdsa.b64}\n127.0.0.1 ssh-ed25519 ${ed1.b64}\n`);
  });

  it('always refuses a changed key, even with accept-new, naming both fingerprints and the stale line', () => {
    const file = join(dir, 'kh-changed');
    const before = `# header\n[127.0.0.1]:2222 ${ed1.type} ${ed1.b64}\n`;
    writeFileSync(file, before);
    const p = policy(file, true);
    expect(p.verify(ed2.blob)).toBe(false);
    const msg = p.failure!.message;
    expect(msg).toContain('HOST KEY CHANGED');
    expect(msg).toContain(fingerprint(ed1.blob));
    expect(msg).toContain(fingerprint(ed2.blob));
    expect(msg).toContain(`${file}:2`);
    expect(msg).toContain(`ssh-keygen -R '[127.0.0.1]:2222' -f ${file}`);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('refuses a revoked key with accept-new', () => {
    const file = join(dir, 'kh-revoked');
    writeFileSync(file, `@revoked * ${ed1.type} ${ed1.b64}\n`);
    const p = policy(file, true);
    expect(p.verify(ed1.blob)).toBe(false);
    expect(p.failure!.message).toContain(`@revoked in ${file}:1`);
  });
});
