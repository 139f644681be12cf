import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/input/diagnostics.ts';
import { loadInventory, loadInventoryText } from '../../src/inventory/load.ts';
import { inventorySchema } from '../../src/inventory/schema.ts';
import { computeTargets } from '../../src/cluster/topology.ts';
import { clusterOf, type Cluster, type Inventory } from '../../src/inventory/types.ts';
import { inventoryTemplateVars } from '../../src/inventory/vars.ts';
import { HOWTO_SETTINGS } from './ramster/clusters.ts';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
const load = (text: string) => loadInventoryText('inv.yaml', text);
const targetsOf = (c: Cluster) => Object.fromEntries(c.nodes.map((n) => [n.number, n.targets]));

/** A one-group cluster with the given `ramster:` lines and nodes numbered as listed. */
function cluster(section: string, numbers: number[], extra: (n: number) => string = () => ''): Inventory {
  const hosts = numbers
    .map((n) => `        n${n}: {address: 10.0.0.${n + 1}, number: ${n}, hostname: system${n}${extra(n)}}`)
    .join('\n');
  return load(
    `all:\n  children:\n    lab:\n      ramster:\n        cluster: lab\n${section}\n      hosts:\n${hosts}\n`,
  );
}

describe('the example inventory', () => {
  it('loads from disk and describes the HOW-TO cluster', async () => {
    const inv = await loadInventory(join(repo, 'playbooks/inventory.example.yaml'));
    expect(inv.clusters).toHaveLength(1);
    const [c] = inv.clusters;
    expect(c).toMatchObject({
      name: 'ramster',
      group: 'lab',
      backend: 'legacy',
      ramster: { port: 7777, heartbeatDeadThreshold: 500, idleTimeoutMs: 1_000_000 },
      topology: 'one-way',
    });
    expect(c.nodes.map((n) => [n.host, n.hostname, n.number])).toEqual([
      ['node1', 'system1', 0],
      ['node2', 'system2', 1],
    ]);
    expect(targetsOf(c)).toEqual({ 0: [1], 1: [] });
    expect(inv.hosts.get('node1')).toMatchObject({ user: 'root', port: 22, connection: 'ssh', groups: ['all', 'lab'] });
  });

  it('points editors at the schema, which has an $id and a description on every property', () => {
    expect(readFileSync(join(repo, 'playbooks/inventory.example.yaml'), 'utf8')).toMatch(
      /^# yaml-language-server: \$schema=\.\.\/schemas\/inventory\.schema\.json/,
    );
    expect(inventorySchema.$id).toMatch(/^https:\/\/.+inventory\.schema\.json$/);
    const missing: string[] = [];
    const walk = (schema: Record<string, unknown>, at: string) => {
      for (const [key, prop] of Object.entries((schema.properties ?? {}) as Record<string, Record<string, unknown>>)) {
        if (typeof prop.description !== 'string' || prop.description.length < 10) missing.push(`${at}.${key}`);
        walk(prop, `${at}.${key}`);
      }
    };
    walk(inventorySchema, '');
    for (const [name, def] of Object.entries(inventorySchema.$defs as Record<string, Record<string, unknown>>))
      walk(def, name);
    expect(missing).toEqual([]);
  });
});

describe('hosts', () => {
  it('applies defaults', () => {
    const inv = load('all:\n  hosts:\n    web1:\n');
    expect(inv.hosts.get('web1')).toEqual({
      name: 'web1',
      address: 'web1',
      port: undefined,
      user: undefined,
      become: false,
      becomePassword: undefined,
      identity: undefined,
      sshConfig: undefined,
      connection: 'ssh',
      root: undefined,
      groups: ['all'],
      vars: {},
    });
    expect(inv.clusters).toEqual([]);
  });

  it('merges vars: all.vars < outer group < inner group < host, and keeps free-form keys in vars', () => {
    const inv = load(`
all:
  vars: {user: root, color: red, size: 1, tier: all}
  children:
    outer:
      vars: {color: blue, tier: outer, become: true}
      children:
        inner:
          vars: {color: green, port: 2200}
          hosts:
            h1: {color: black, become_password: s3cret, identity: /keys/id}
            h2:
    other:
      vars: {size: 2}
      hosts:
        h2: {note: hi}
`);
    expect(inv.hosts.get('h1')).toMatchObject({
      user: 'root',
      become: true,
      becomePassword: 's3cret',
      identity: '/keys/id',
      port: 2200,
      groups: ['all', 'outer', 'inner'],
      vars: { color: 'black', size: 1, tier: 'outer' },
    });
    // h2 is in two groups: `inner` (depth 2) beats `other` (depth 1); its own settings from both listings merge.
    const h2 = inv.hosts.get('h2')!;
    expect(h2.groups).toEqual(['all', 'other', 'outer', 'inner']);
    expect(h2.vars).toEqual({ color: 'green', size: 2, tier: 'outer', note: 'hi' });
    // Known keys are fields, not vars; the sensitive password is never in vars.
    expect(Object.keys(inv.hosts.get('h1')!.vars)).not.toContain('become_password');
  });

  it('gives hosts of the same groups the same group vars, each with its own overrides, and groups no host can change for the others', () => {
    const inv = load(
      'all:\n  vars: {tier: all}\n  children:\n    web:\n      vars: {tier: web, rack: r1}\n      hosts:\n        a: {rack: r9}\n        b:\n        c: {tier: own}\n',
    );
    expect(['a', 'b', 'c'].map((h) => inv.hosts.get(h)!.vars)).toEqual([
      { tier: 'web', rack: 'r9' },
      { tier: 'web', rack: 'r1' },
      { tier: 'own', rack: 'r1' },
    ]);
    const groups = inv.hosts.get('a')!.groups as string[];
    expect(() => groups.push('intruder')).toThrow(TypeError);
    expect(inv.hosts.get('b')!.groups).toEqual(['all', 'web']);
  });

  it('counts a group listed under two parents as a member of both (Ansible semantics)', () => {
    const inv = load(`
all:
  children:
    lab:
      vars: {from: lab}
      hosts:
        h1:
    site:
      vars: {from: site, site_only: 1}
      children:
        lab:
`);
    const h1 = inv.hosts.get('h1')!;
    expect(h1.groups).toEqual(['all', 'site', 'lab']);
    expect(h1.vars).toEqual({ from: 'lab', site_only: 1 });
  });

  it('reads local and chroot connections with their root', () => {
    const inv = load('all:\n  hosts:\n    img: {connection: chroot, root: /srv/img}\n    me: {connection: local}\n');
    expect(inv.hosts.get('img')).toMatchObject({ connection: 'chroot', root: '/srv/img' });
    expect(inv.hosts.get('me')).toMatchObject({ connection: 'local', root: undefined });
  });
});

describe('clusters', () => {
  it('applies the cluster defaults', () => {
    const [c] = cluster('', [0, 1]).clusters;
    expect(c).toEqual({
      name: 'lab',
      group: 'lab',
      backend: 'legacy',
      ramster: HOWTO_SETTINGS,
      topology: undefined,
      nodes: [
        { host: 'n0', hostname: 'system0', number: 0, clusterAddress: '10.0.0.1', targets: [] },
        { host: 'n1', hostname: 'system1', number: 1, clusterAddress: '10.0.0.2', targets: [] },
      ],
    });
  });

  it('keeps the SSH endpoint and the cluster address apart', () => {
    const inv = load(`
all:
  children:
    lab:
      ramster: {cluster: lab, topology: symmetric}
      hosts:
        a: {address: 127.0.0.1, port: 2222, cluster_address: 10.0.2.15, number: 0, hostname: a}
        b: {address: 127.0.0.1, port: 2223, cluster_address: 10.0.2.16, number: 1, hostname: b}
`);
    expect(inv.hosts.get('a')).toMatchObject({ address: '127.0.0.1', port: 2222 });
    expect(inv.hosts.get('b')).toMatchObject({ address: '127.0.0.1', port: 2223 });
    expect(inv.clusters[0].nodes.map((n) => n.clusterAddress)).toEqual(['10.0.2.15', '10.0.2.16']);
  });

  it('one-way: the lowest-numbered node borrows from the next-lowest', () => {
    expect(targetsOf(cluster('        topology: one-way', [0, 1, 2]).clusters[0])).toEqual({ 0: [1], 1: [], 2: [] });
    expect(targetsOf(cluster('        topology: one-way', [5, 3]).clusters[0])).toEqual({ 3: [5], 5: [] });
  });

  it('symmetric: each node borrows from the next node number, in a ring', () => {
    expect(targetsOf(cluster('        topology: symmetric', [0, 1]).clusters[0])).toEqual({ 0: [1], 1: [0] });
    expect(targetsOf(cluster('        topology: symmetric', [7, 2, 5]).clusters[0])).toEqual({
      2: [5],
      5: [7],
      7: [2],
    });
  });

  it('ram-server: every node but the lowest-numbered borrows from it', () => {
    expect(targetsOf(cluster('        topology: ram-server', [0, 1, 2]).clusters[0])).toEqual({
      0: [],
      1: [0],
      2: [0],
    });
  });

  it('an explicit remote_target, by name or by number, overrides the topology for that node', () => {
    const byName = cluster('        topology: ram-server', [0, 1, 2], (n) => (n === 2 ? ', remote_target: n1' : ''));
    expect(targetsOf(byName.clusters[0])).toEqual({ 0: [], 1: [0], 2: [1] });
    const byNumber = cluster('        topology: one-way', [0, 1, 2], (n) => (n === 0 ? ', remote_target: 2' : ''));
    expect(targetsOf(byNumber.clusters[0])).toEqual({ 0: [2], 1: [], 2: [] });
  });

  it('without a topology only nodes with a remote_target borrow; a ramster hostname also names a node', () => {
    const inv = cluster('', [0, 1, 2], (n) => (n === 1 ? ', remote_target: system2' : ''));
    expect(inv.clusters[0].topology).toBeUndefined();
    expect(targetsOf(inv.clusters[0])).toEqual({ 0: [], 1: [2], 2: [] });
  });

  it('replicas 2 (modern) gives each borrower a second, distinct lender', () => {
    const ram = cluster(
      '        backend: modern\n        topology: ram-server\n        replicas: 2\n        lend_mb: 512',
      [0, 1, 2],
    ).clusters[0];
    expect(targetsOf(ram)).toEqual({ 0: [], 1: [0, 2], 2: [0, 1] });
    expect(ram.backend === 'modern' && ram.modern).toEqual({
      nvmePort: 4420,
      replicas: 2,
      lendMb: 512,
      auth: 'dhchap',
      authRotation: 0,
      encryption: 'dm-crypt',
    });
    const sym = cluster('        backend: modern\n        topology: symmetric\n        replicas: 2', [0, 1, 2, 3])
      .clusters[0];
    expect(targetsOf(sym)).toEqual({ 0: [1, 2], 1: [2, 3], 2: [3, 0], 3: [0, 1] });
  });

  it('takes members from sub-groups and sorts nodes by number', () => {
    const inv = load(`
all:
  children:
    lab:
      ramster: {cluster: lab, topology: ram-server, port: 8000}
      children:
        servers:
          hosts:
            big: {address: 10.0.0.9, number: 0, hostname: big}
        clients:
          hosts:
            c2: {address: 10.0.0.3, number: 2, hostname: c2}
            c1: {address: 10.0.0.2, number: 1, hostname: c1}
    web:
      hosts:
        w1:
`);
    expect(inv.clusters[0].nodes.map((n) => n.host)).toEqual(['big', 'c1', 'c2']);
    const lab = inv.clusters[0];
    expect(lab.backend === 'legacy' && lab.ramster.port).toBe(8000);
    expect(clusterOf(inv, 'c1')?.name).toBe('lab');
    expect(clusterOf(inv, 'w1')).toBeUndefined();
  });

  it('computeTargets never targets the borrower itself or a node outside the cluster', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 8 }),
        fc.constantFrom('one-way', 'symmetric', 'ram-server', undefined),
        fc.constantFrom(1, 2),
        (numbers, topology, replicas) => {
          const targets = computeTargets(numbers, topology as never, new Map(), replicas as 1 | 2);
          expect([...targets.keys()].sort()).toEqual([...numbers].sort());
          for (const [n, ts] of targets) {
            expect(ts).not.toContain(n);
            for (const t of ts) expect(numbers).toContain(t);
            expect(new Set(ts).size).toBe(ts.length);
            if (ts.length) expect(ts.length).toBe(replicas === 2 && numbers.length >= 3 ? 2 : 1);
          }
        },
      ),
    );
  });
});

describe('inventoryTemplateVars', () => {
  const inv = load(`
all:
  vars: {greeting: hello}
  children:
    lab:
      ramster: {cluster: lab, topology: one-way, backend: modern, zswap_compressor: lz4}
      hosts:
        a: {address: 127.0.0.1, port: 2222, cluster_address: 10.0.0.1, number: 0, hostname: sysa, colour: red}
        b: {address: 127.0.0.1, port: 2223, cluster_address: 10.0.0.2, number: 1, hostname: sysb}
    plain:
      hosts:
        c: {greeting: hi}
`);

  it('gives merged vars, inventory_hostname and the host cluster as plain data', () => {
    const vars = inventoryTemplateVars(inv, 'a');
    const nodes = [
      { host: 'a', hostname: 'sysa', number: 0, address: '10.0.0.1', targets: [1], borrowers: [] },
      { host: 'b', hostname: 'sysb', number: 1, address: '10.0.0.2', targets: [], borrowers: [0] },
    ];
    expect(vars).toEqual({
      greeting: 'hello',
      colour: 'red',
      inventory_hostname: 'a',
      ramster: {
        name: 'lab',
        group: 'lab',
        backend: 'modern',
        topology: 'one-way',
        settings: {
          nvmePort: 4420,
          replicas: 1,
          lendMb: 1024,
          zswapCompressor: 'lz4',
          auth: 'dhchap',
          authRotation: 0,
          encryption: 'dm-crypt',
        },
        nodes,
        node: nodes[0],
      },
    });
    expect(inventoryTemplateVars(inv, 'b').ramster?.node).toEqual(nodes[1]);
  });

  it('gives ramster undefined outside a cluster, and copies that templates cannot use to change the inventory', () => {
    const c = inventoryTemplateVars(inv, 'c');
    expect(c).toEqual({ greeting: 'hi', inventory_hostname: 'c', ramster: undefined });
    const a = inventoryTemplateVars(inv, 'a');
    a.ramster!.nodes[0].targets.push(7);
    (a.ramster!.settings as { lendMb: number }).lendMb = 1;
    expect(inv.clusters[0].nodes[0].targets).toEqual([1]);
    expect(inv.clusters[0].backend === 'modern' && inv.clusters[0].modern.lendMb).toBe(1024);
  });

  it('refuses an unknown host', () => {
    expect(() => inventoryTemplateVars(inv, 'nope')).toThrow(/unknown host nope/);
  });
});

describe('loadInventory errors', () => {
  it('reports a missing file as a diagnostic', async () => {
    const err = await loadInventory(join(repo, 'no-such-inventory.yaml')).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(err.diagnostics).toEqual([expect.objectContaining({ line: 1, col: 1, message: 'file not found' })]);
  });

  it('reports every problem of a file on disk at once, with file:line:col', async () => {
    const file = join(repo, 'test/fixtures/inventory/invalid/52-many-problems.yaml');
    const err = await loadInventory(file).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(err.diagnostics.length).toBe(8);
    expect(err.message.split('\n')[0]).toBe(
      `${file}:4:13: error: \`become\` in the vars of group \`all\` must be true or false (got "yes please")`,
    );
  });
});

describe('free variables and misspelt settings', () => {
  const problems = (text: string) => {
    try {
      load(text);
    } catch (e) {
      if (e instanceof InputError) return e.diagnostics.map((d) => `${d.line}:${d.col} ${d.message} | ${d.hint}`);
      throw e;
    }
    return [];
  };

  it('takes a name one edit from a setting for a typo, with "did you mean"', () => {
    expect(problems('all:\n  hosts:\n    h1:\n      adress: 192.0.2.1\n')).toEqual([
      expect.stringMatching(
        /^4:7 `adress` of host `h1` is not a setting, but its name is close to the setting `address` \| did you mean `address`\?/,
      ),
    ]);
    expect(problems('all:\n  vars:\n    become_pasword: x\n  hosts:\n    h1:\n')).toEqual([
      expect.stringMatching(/^3:5 .*`become_password`/),
    ]);
  });

  it('keeps names declared under `vars:` as they are, at the precedence of the map they are in', () => {
    const inv = load(`
all:
  vars:
    vars: {adress: outer, becom: 1}
  hosts:
    h1:
      vars: {adress: mine}
      colour: red
`);
    expect(inv.hosts.get('h1')).toMatchObject({
      address: 'h1',
      become: false,
      vars: { adress: 'mine', becom: 1, colour: 'red' },
    });
  });

  it('leaves names that are not close to a setting alone', () => {
    const inv = load(
      'all:\n  hosts:\n    h1: {size: 1, note: hi, ansible_user: x, kernel_source: /usr/src/linux, roles: [a]}\n',
    );
    expect(Object.keys(inv.hosts.get('h1')!.vars)).toEqual(['size', 'note', 'ansible_user', 'kernel_source', 'roles']);
  });
});
