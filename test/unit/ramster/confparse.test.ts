import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderRamsterConf } from '../../../src/ramster/conf.ts';
import { confErrorsToDiagnostics, isIpv4, parseRamsterConf } from '../../../src/ramster/confparse.ts';
import { fixtureDir, makeCluster } from './clusters.ts';
import { brokenFixtures, validFixtures } from './conf-fixtures.ts';

const read = (p: string) => readFileSync(fixtureDir + p, 'utf8');

describe('renderRamsterConf', () => {
  it('renders the HOW-TO layout: cluster first, one tab, blank line between stanzas, final LF', () => {
    const text = renderRamsterConf(makeCluster(2, 'one-way'));
    expect(text).toBe(
      'cluster:\n\tname = ramster\n\tnode_count = 2\n\n' +
        'node:\n\tname = node0\n\tcluster = ramster\n\tnumber = 0\n\tip_address = 10.0.0.10\n\tip_port = 7777\n\n' +
        'node:\n\tname = node1\n\tcluster = ramster\n\tnumber = 1\n\tip_address = 10.0.0.11\n\tip_port = 7777\n',
    );
  });

  it.each([2, 3, 8])('renders %i nodes sorted by number, deterministic, parseable on every node', (count) => {
    const cluster = makeCluster(count);
    const shuffled = { ...cluster, nodes: [...cluster.nodes].reverse() };
    const text = renderRamsterConf(shuffled);
    expect(text).toBe(renderRamsterConf(cluster));
    expect(text).not.toMatch(/\r|[ \t]\n|\n\n\n/);
    expect(text.endsWith('\n') && !text.endsWith('\n\n')).toBe(true);
    for (const node of cluster.nodes) {
      const parsed = parseRamsterConf(text, node.hostname);
      expect(parsed.ok).toBe(true);
      if (!parsed.ok) continue;
      expect(parsed.conf.local?.number).toBe(node.number);
      expect(parsed.conf.nodes.map((n) => n.number)).toEqual([...Array(count).keys()]);
      expect(parsed.conf.cluster).toMatchObject({ name: 'ramster', nodeCount: count });
    }
  });

  it.each(['one-way', 'symmetric', 'ram-server'] as const)(
    'the file does not depend on the topology (%s)',
    (topology) => {
      expect(renderRamsterConf(makeCluster(3, topology))).toBe(renderRamsterConf(makeCluster(3, 'ram-server')));
    },
  );

  it('refuses a cluster that would make a file the nodes reject', () => {
    const cluster = makeCluster(2);
    cluster.nodes[1].clusterAddress = cluster.nodes[0].clusterAddress;
    expect(() => renderRamsterConf(cluster)).toThrow(/address '10\.0\.0\.10' is used twice/);
    const nine = makeCluster(2);
    nine.nodes[1].number = 9;
    expect(() => renderRamsterConf(nine)).toThrow(/node number '9' is out of range 0-7/);
  });
});

describe('parseRamsterConf', () => {
  it('covers every fixture file in the table', () => {
    expect(readdirSync(`${fixtureDir}valid`).sort()).toEqual(Object.keys(validFixtures).sort());
    expect(readdirSync(`${fixtureDir}broken`).sort()).toEqual(Object.keys(brokenFixtures).sort());
    expect(Object.keys(brokenFixtures).length).toBeGreaterThanOrEqual(15);
  });

  it.each(Object.entries(validFixtures))('accepts valid/%s', (file, want) => {
    const parsed = parseRamsterConf(read(`valid/${file}`), want.hostname);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    expect(parsed.conf.local?.name).toBe(want.local);
    expect(parsed.conf.nodes).toHaveLength(want.nodes);
    expect(parsed.conf.nodes.map((n) => n.number)).toEqual(
      [...parsed.conf.nodes.map((n) => n.number)].sort((a, b) => a - b),
    );
  });

  it.each(Object.entries(brokenFixtures))('rejects broken/%s with the reason and a hint', (file, want) => {
    const parsed = parseRamsterConf(read(`broken/${file}`), want.hostname ?? 'system1');
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    const hit = parsed.errors.find((e) => e.line === want.line && want.message.test(e.message));
    expect(hit, JSON.stringify(parsed.errors, null, 1)).toBeDefined();
    for (const e of parsed.errors) expect(e.hint.length).toBeGreaterThan(5);
  });

  it('keeps the HOW-TO example values', () => {
    const parsed = parseRamsterConf(read('valid/howto-2node.conf'), 'system2');
    expect(parsed).toEqual({
      ok: true,
      conf: {
        cluster: { name: 'ramster', nodeCount: 2, line: 1 },
        nodes: [
          { name: 'system1', cluster: 'ramster', number: 0, ipAddress: '192.168.1.10', ipPort: 7777, line: 5 },
          { name: 'system2', cluster: 'ramster', number: 1, ipAddress: '192.168.1.11', ipPort: 7777, line: 12 },
        ],
        local: { name: 'system2', cluster: 'ramster', number: 1, ipAddress: '192.168.1.11', ipPort: 7777, line: 12 },
      },
    });
  });

  it('without a hostname, looks for no local node', () => {
    const parsed = parseRamsterConf(read('broken/no-local-node.conf'));
    expect(parsed.ok && parsed.conf.local).toBe(undefined);
    expect(parsed.ok).toBe(true);
  });

  it('an FQDN in the file does not match a short hostname (the HOW-TO: qualify both or neither)', () => {
    const parsed = parseRamsterConf(read('valid/fqdn-names.conf'), 'system1');
    expect(parsed.ok).toBe(false);
  });

  it('reports every error of a file at once, sorted by line', () => {
    const text = read('valid/howto-2node.conf')
      .replace('number = 1', 'number = 9')
      .replace('ip_port = 7777', 'ip_port = 0');
    const parsed = parseRamsterConf(text, 'system1');
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.errors.map((e) => e.line)).toEqual([10, 15]);
    const diags = confErrorsToDiagnostics('/etc/ramster.conf', parsed.errors);
    expect(diags[0]).toMatchObject({
      file: '/etc/ramster.conf',
      line: 10,
      col: 1,
      message: "ip_port '0' is out of range 1-65534",
    });
  });

  it('validates IPv4 like inet_pton', () => {
    expect(['0.0.0.0', '255.255.255.255', '10.1.2.3'].every(isIpv4)).toBe(true);
    expect(['1.2.3', '1.2.3.4.', '256.1.1.1', '01.2.3.4', '1.2.3.-4', ' 1.2.3.4', '1.2.3.4 '].some(isIpv4)).toBe(false);
  });
});
