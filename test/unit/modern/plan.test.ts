import { describe, expect, it } from 'vitest';
import { type ModernCluster, modernSettings } from '../../../src/modern/model.ts';
import { computeTargets } from '../../../src/cluster/topology.ts';
import { renderModernConf } from '../../../src/modern/conf.ts';
import { hostNqn, lendFile, modernPlan, modulesNeeded, subsystemNqn } from '../../../src/modern/plan.ts';

function cluster(n: number, topology: ModernCluster['topology'], options: Record<string, unknown> = {}): ModernCluster {
  const numbers = [...Array(n).keys()];
  const replicas = options.replicas === 2 ? 2 : 1;
  const targets = computeTargets(numbers, topology, new Map(), replicas);
  return {
    name: 'lab',
    group: 'lab',
    backend: 'modern',
    topology,
    modern: modernSettings(options),
    nodes: numbers.map((i) => ({
      host: `g${i}`,
      hostname: `g${i}`,
      number: i,
      clusterAddress: `10.99.0.${10 + i}`,
      targets: targets.get(i)!,
    })),
  };
}
const planOf = (c: ModernCluster, n: number) => modernPlan(c, c.nodes[n]);

describe('modern plan', () => {
  it('one-way: node 0 borrows node 1 RAM; node 1 lends to node 0 only, on its cluster address', () => {
    const c = cluster(2, 'one-way', { lend_mb: 512, zswap_compressor: 'lz4', zswap_max_pool_percent: 25 });
    const [p0, p1] = [planOf(c, 0), planOf(c, 1)];
    expect(p0.lends).toEqual([]);
    expect(p0.borrows).toEqual([
      {
        lender: 1,
        lenderHost: 'g1',
        subsystem: subsystemNqn('lab', 1, 0),
        hostNqn: hostNqn('lab', 0),
        address: '10.99.0.11',
        port: 4420,
        ctrlLossTmo: -1,
        authFile: '/etc/ramster/auth/lab-node1-to-node0.keys',
      },
    ]);
    expect(p0.zswap).toEqual({ compressor: 'lz4', maxPoolPercent: 25 });
    expect(p1.borrows).toEqual([]);
    expect(p1.zswap).toBeUndefined();
    expect(p1.lends).toEqual([
      {
        borrower: 0,
        borrowerHost: 'g0',
        subsystem: subsystemNqn('lab', 1, 0),
        hostNqn: hostNqn('lab', 0),
        file: lendFile(0),
        sizeMb: 512,
        authFile: '/etc/ramster/auth/lab-node1-to-node0.keys',
      },
    ]);
    expect(p1.address).toBe('10.99.0.11');
  });

  it('symmetric: every node lends and borrows; ram-server: node 0 lends to all others', () => {
    const sym = cluster(3, 'symmetric');
    expect(
      [0, 1, 2].map((n) => [planOf(sym, n).borrows.map((b) => b.lender), planOf(sym, n).lends.map((l) => l.borrower)]),
    ).toEqual([
      [[1], [2]],
      [[2], [0]],
      [[0], [1]],
    ]);
    const server = cluster(3, 'ram-server');
    expect(planOf(server, 0).lends.map((l) => l.borrower)).toEqual([1, 2]);
    expect(planOf(server, 0).lends.every((l) => l.sizeMb === 1024)).toBe(true);
    expect(planOf(server, 1).borrows.map((b) => b.lender)).toEqual([0]);
  });

  it('replicas 2: two lenders, mirrored, and a finite ctrl_loss_tmo so a lost lender fails its RAID1 leg instead of blocking', () => {
    const c = cluster(3, 'ram-server', { replicas: 2 });
    const p1 = planOf(c, 1);
    expect(p1.mirrored).toBe(true);
    expect(p1.borrows.map((b) => [b.lender, b.ctrlLossTmo > 0, b.fastIoFailTmo! > 0])).toEqual([
      [0, true, true],
      [2, true, true],
    ]);
    expect(planOf(c, 2).lends.map((l) => l.borrower)).toEqual([1]);
    expect(modulesNeeded(p1, 'borrow')).toEqual(['nvme-tcp', 'raid1', 'dm-crypt']);
    expect(modulesNeeded(planOf(cluster(3, 'ram-server', { replicas: 2, encryption: 'none' }), 1), 'borrow')).toEqual([
      'nvme-tcp',
      'raid1',
    ]);
    expect(modulesNeeded(planOf(c, 0), 'lend')).toEqual(['nvmet', 'nvmet-tcp']);
    expect(modulesNeeded(planOf(c, 0), 'borrow')).toEqual([]);
  });

  it('renders the conf ramster-modern reads, one record per line', () => {
    const c = cluster(2, 'one-way', { lend_mb: 256 });
    const lender = renderModernConf(planOf(c, 1))
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    expect(lender).toEqual([
      'port 10.99.0.11 4420',
      `lend 0 ${subsystemNqn('lab', 1, 0)} ${hostNqn('lab', 0)} /run/ramster-lend/node0.img 256 /etc/ramster/auth/lab-node1-to-node0.keys`,
    ]);
    const borrower = renderModernConf(planOf(c, 0))
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    expect(borrower).toEqual([
      `borrow 1 ${subsystemNqn('lab', 1, 0)} ${hostNqn('lab', 0)} 10.99.0.11 4420 -1 - /etc/ramster/auth/lab-node1-to-node0.keys`,
      'swap ramster-remote 32767 namespace',
      'zswap - -',
      // encryption: dm-crypt (the default): the swap sits on the mapping over that device
      'crypt ramster-swap-crypt aes-xts-plain64',
    ]);
    const clear = renderModernConf(planOf(cluster(2, 'one-way', { encryption: 'none' }), 0));
    expect(clear).not.toMatch(/^crypt /m);
    // with replicas 2 the mapping is over the mirror, whose record comes first
    const mirrored = renderModernConf(planOf(cluster(3, 'ram-server', { replicas: 2 }), 1));
    expect(mirrored).toMatch(
      /^swap ramster-remote 32767 \/dev\/md\/ramster-swap\nzswap - -\ncrypt ramster-swap-crypt aes-xts-plain64$/m,
    );
  });
});
