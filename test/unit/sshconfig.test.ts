import { describe, expect, it } from 'vitest';
import {
  SshConfigError,
  expandTokens,
  hostMatches,
  lookupHost,
  parseJump,
  parseSshConfig,
} from '../../src/transport/sshconfig.ts';
import { resolveRoute } from '../../src/transport/sshroute.ts';

const cfg = (text: string) => parseSshConfig(text, '/home/u/.ssh/config');
const env = { home: '/home/u', localUser: 'u', defaultUser: 'root' };

describe('ssh_config Host patterns', () => {
  it('matches *, ? and negation, without case', () => {
    expect(hostMatches(['*'], 'anything')).toBe(true);
    expect(hostMatches(['web?'], 'web1')).toBe(true);
    expect(hostMatches(['web?'], 'web12')).toBe(false);
    expect(hostMatches(['*.example.com'], 'A.Example.COM')).toBe(true);
    expect(hostMatches(['*.example.com'], 'example.com')).toBe(false);
    expect(hostMatches(['10.0.0.*', '!10.0.0.1'], '10.0.0.7')).toBe(true);
    expect(hostMatches(['10.0.0.*', '!10.0.0.1'], '10.0.0.1')).toBe(false);
    // A negation alone matches nothing; a dot is literal, not a regex wildcard.
    expect(hostMatches(['!bastion'], 'web1')).toBe(false);
    expect(hostMatches(['a.b'], 'axb')).toBe(false);
  });
});

describe('ssh_config values', () => {
  it('keeps the first value obtained for each option; IdentityFile collects them all', () => {
    const c = cfg(`
# defaults before any Host apply to every host
User   early
Host web1 web2
  HostName 10.0.0.%h
  Port 2201
  IdentityFile ~/.ssh/web_key
Host web*
  Port 9999
  User=late
  IdentityFile "/keys/with space"
Host *
  Port 22
  ProxyJump bastion
`);
    expect(lookupHost(c, 'web1')).toEqual({
      hostName: '10.0.0.%h',
      port: 2201,
      user: 'early',
      identityFiles: ['~/.ssh/web_key', '/keys/with space'],
      proxyJump: 'bastion',
    });
    expect(lookupHost(c, 'web3')).toEqual({
      port: 9999,
      user: 'early',
      identityFiles: ['/keys/with space'],
      proxyJump: 'bastion',
    });
    expect(lookupHost(c, 'db')).toEqual({ port: 22, user: 'early', identityFiles: [], proxyJump: 'bastion' });
  });

  it('keeps `ProxyJump none` given first, skips Match blocks except `Match all`, ignores other keywords', () => {
    const c = cfg(
      'Host bastion\n  ProxyJump none\nMatch host web1\n  User never\nMatch all\n  User m\nHost *\n  ProxyJump bastion\n  ForwardAgent yes\n',
    );
    expect(lookupHost(c, 'bastion')).toEqual({ user: 'm', identityFiles: [], proxyJump: 'none' });
    expect(lookupHost(c, 'web1')).toEqual({ user: 'm', identityFiles: [], proxyJump: 'bastion' });
  });

  it('refuses what it cannot read, at its line', () => {
    expect(() => cfg('Host a\n  Port 70000\n')).toThrow(/config:2: Port must be a number from 1 to 65535, got 70000/);
    expect(() => cfg('Host\n')).toThrow(/config:1: Host needs at least one pattern/);
    expect(() => cfg('Host a\n  User "open\n')).toThrow(/config:2: unterminated quote/);
  });

  it('expands %h %p %r %u %d %% and ~ in IdentityFile', () => {
    const t = { host: 'h.example', port: 2222, remoteUser: 'admin', localUser: 'me', home: '/home/me' };
    expect(expandTokens('~/.ssh/%r@%h:%p-%u-%%', t, 'IdentityFile')).toBe('/home/me/.ssh/admin@h.example:2222-me-%');
    expect(expandTokens('%d/k', t, 'IdentityFile')).toBe('/home/me/k');
    expect(() => expandTokens('~/.ssh/%C', t, 'IdentityFile')).toThrow(SshConfigError);
  });

  it('reads ProxyJump hops in their forms', () => {
    expect(parseJump('bastion')).toEqual({ host: 'bastion', user: undefined });
    expect(parseJump('ops@bastion:2200')).toEqual({ host: 'bastion', user: 'ops', port: 2200 });
    expect(parseJump('ssh://ops@10.0.0.1:22')).toEqual({ host: '10.0.0.1', user: 'ops', port: 22 });
    expect(parseJump('[fd00::1]:2200')).toEqual({ host: 'fd00::1', user: undefined, port: 2200 });
    expect(() => parseJump('a:b:c')).toThrow(SshConfigError);
    expect(() => parseJump('@host')).toThrow(SshConfigError);
    expect(() => parseJump('host:0')).toThrow(SshConfigError);
  });
});

describe('routes', () => {
  const fleet = cfg(`
Host bastion
  HostName 192.0.2.1
  Port 2200
  User ops
  IdentityFile ~/.ssh/bastion_%r
Host inner
  HostName 10.1.0.1
  ProxyJump bastion
Host node?
  HostName 10.2.0.%h
  User admin
  IdentityFile ~/.ssh/fleet_%h
  ProxyJump inner,jumper@10.1.0.2:2022
Host *
  User fallback
`);

  it('lets inventory values win over ssh_config, and maps the address through HostName', () => {
    const r = resolveRoute(fleet, { host: 'bastion', port: 22, user: 'root' }, env);
    expect(r).toEqual({
      target: {
        alias: 'bastion',
        host: '192.0.2.1',
        port: 22,
        username: 'root',
        identityFiles: ['/home/u/.ssh/bastion_root'],
      },
      jumps: [],
    });
    expect(resolveRoute(fleet, { host: 'bastion' }, env).target).toMatchObject({
      port: 2200,
      username: 'ops',
      identityFiles: ['/home/u/.ssh/bastion_ops'],
    });
  });

  it('falls back to port 22 and the default user; no config is no route change', () => {
    expect(resolveRoute(undefined, { host: 'x' }, env)).toEqual({
      target: { alias: 'x', host: 'x', port: 22, username: 'root', identityFiles: [] },
      jumps: [],
    });
    expect(resolveRoute(cfg('Host y\n  Port 1\n'), { host: 'x' }, env).target).toMatchObject({
      port: 22,
      username: 'root',
    });
  });

  it('resolves every hop through the config: the first hop with its own ProxyJump, later ones through the hop before', () => {
    const r = resolveRoute(fleet, { host: 'node1' }, env);
    expect(r.target).toEqual({
      alias: 'node1',
      host: '10.2.0.node1',
      port: 22,
      username: 'admin',
      identityFiles: ['/home/u/.ssh/fleet_10.2.0.node1'],
    });
    expect(r.jumps).toEqual([
      { alias: 'bastion', host: '192.0.2.1', port: 2200, username: 'ops', identityFiles: ['/home/u/.ssh/bastion_ops'] },
      { alias: 'inner', host: '10.1.0.1', port: 22, username: 'fallback', identityFiles: [] },
      { alias: '10.1.0.2', host: '10.1.0.2', port: 2022, username: 'jumper', identityFiles: [] },
    ]);
  });

  it('gives a jump host without any User the local user name, as ssh does', () => {
    const r = resolveRoute(cfg('Host t\n  ProxyJump b\n'), { host: 't' }, env);
    expect(r.jumps).toEqual([{ alias: 'b', host: 'b', port: 22, username: 'u', identityFiles: [] }]);
  });

  it('stops a jump host that jumps through itself', () => {
    expect(() => resolveRoute(cfg('Host *\n  ProxyJump bastion\n'), { host: 'web1' }, env)).toThrow(
      /nests more than 8 deep.*Host \* !bastion/,
    );
    expect(
      resolveRoute(cfg('Host * !bastion\n  ProxyJump bastion\n'), { host: 'web1' }, env).jumps.map((j) => j.alias),
    ).toEqual(['bastion']);
  });
});
