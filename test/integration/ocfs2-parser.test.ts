import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderRamsterConf } from '../../src/ramster/conf.ts';
import { parseRamsterConf } from '../../src/ramster/confparse.ts';
import { makeCluster } from '../unit/ramster/clusters.ts';
import { brokenFixtures, validFixtures } from '../unit/ramster/conf-fixtures.ts';
import { tempDir } from '../helpers/tmp.ts';

// Debian's ocfs2-tools (`o2cb --config-file`) loads a cluster.conf without a kernel: it parses
// the whole file with its jconfig parser and fills every cluster, so a non-zero exit means the
// file was refused. Needs the ocfs2-tools package.

const fixtures = new URL('../fixtures/ramster-conf/', import.meta.url).pathname;

function o2cb(file: string, ...args: string[]) {
  const r = spawnSync('o2cb', [`--config-file=${file}`, ...args], { encoding: 'utf8' });
  if (r.error) throw new Error(`o2cb is not installed (apt-get install ocfs2-tools): ${r.error.message}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Node stanzas of `o2cb list-nodes` output, by number. */
function listedNodes(out: string) {
  return out
    .split('\n\n')
    .filter((s) => s.startsWith('node:'))
    .map((s) => Object.fromEntries([...s.matchAll(/^\t(\w+) = (.*)$/gm)].map((m) => [m[1], m[2]])))
    .sort((a, b) => Number(a.number) - Number(b.number));
}

describe('ocfs2-tools accepts the ramster.conf we generate', () => {
  const dir = tempDir('ramster-o2cb-');

  it.each([2, 3, 8])('%i nodes: o2cb loads it and lists every node as written', (count) => {
    const cluster = makeCluster(count);
    const file = join(dir, `ramster-${count}.conf`);
    writeFileSync(file, renderRamsterConf(cluster));
    expect(o2cb(file, 'list-clusters')).toEqual({ code: 0, stdout: 'ramster\n', stderr: '' });
    const nodes = o2cb(file, 'list-nodes', 'ramster');
    expect(nodes.code).toBe(0);
    expect(listedNodes(nodes.stdout)).toEqual(
      cluster.nodes.map((n) => ({
        number: String(n.number),
        name: n.hostname,
        ip_address: n.clusterAddress,
        ip_port: '7777',
        cluster: 'ramster',
      })),
    );
    expect(o2cb(file, 'list-cluster', 'ramster').stdout).toMatch(
      new RegExp(`^cluster:\\n(\\t.*\\n)*\\tnode_count = ${count}\\n`, 'm'),
    );
  });

  it('o2cb refuses a broken file (CRLF line endings)', () => {
    const file = join(dir, 'crlf.conf');
    writeFileSync(file, renderRamsterConf(makeCluster(2)).replace(/\n/g, '\r\n'));
    const r = o2cb(file, 'list-clusters');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/while loading cluster configuration file/);
  });
});

describe('our parser against ocfs2-tools on every fixture', () => {
  it('accepts every valid fixture, as o2cb does', () => {
    for (const f of readdirSync(join(fixtures, 'valid'))) {
      expect(o2cb(join(fixtures, 'valid', f), 'list-clusters').code, f).toBe(0);
      expect(parseRamsterConf(readFileSync(join(fixtures, 'valid', f), 'utf8'), validFixtures[f].hostname).ok, f).toBe(
        true,
      );
    }
  });

  it('rejects every file o2cb rejects; is stricter only where RAMster or the kernel need it', () => {
    const o2cbAccepts: string[] = [];
    const o2cbRejects: string[] = [];
    for (const f of Object.keys(brokenFixtures)) {
      const ours = parseRamsterConf(
        readFileSync(join(fixtures, 'broken', f), 'utf8'),
        brokenFixtures[f].hostname ?? 'system1',
      );
      expect(ours.ok, f).toBe(false);
      (o2cb(join(fixtures, 'broken', f), 'list-clusters').code === 0 ? o2cbAccepts : o2cbRejects).push(f);
    }
    expect(o2cbRejects.sort()).toEqual([
      'attribute-before-stanza.conf',
      'bad-ip.conf',
      'blank-line-in-stanza.conf',
      'crlf.conf',
      'duplicate-name.conf',
      'header-trailing-text.conf',
      'header-without-colon.conf',
      'indented-comment.conf',
      'indented-header.conf',
      'ip-leading-zero.conf',
      'missing-ip-port.conf',
      'missing-node-count.conf',
      'number-not-a-number.conf',
      'unknown-attribute.conf',
    ]);
    // Stricter than o2cb 1.8.7 (see src/ramster/confparse.ts for why each one matters).
    expect(o2cbAccepts.sort()).toEqual([
      'backslash-continuation.conf',
      'cluster-name-mismatch.conf',
      'cluster-name-too-long.conf',
      'cluster-name-with-dash.conf',
      'duplicate-address.conf',
      'duplicate-number.conf',
      'empty.conf',
      'missing-cluster.conf',
      'no-local-node.conf',
      'number-too-big.conf',
      'port-out-of-range.conf',
      'repeated-attribute.conf',
      'trailing-blank-number.conf',
      'trailing-blank-port.conf',
      'two-clusters.conf',
      'two-local-nodes.conf',
      'unknown-stanza.conf',
      'wrong-node-count.conf',
    ]);
  });
});
