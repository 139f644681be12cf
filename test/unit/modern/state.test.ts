/**
 * The modern backend's state, checks and figures against probe output captured from real lab
 * guests (test/fixtures/modern/probe-*.txt: Debian 12, kernel 6.1, node1 swapping on node2's
 * RAM over NVMe/TCP after `ramster-provision apply`). Mutations of that text stand in for the
 * failures the tests name.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ModernCluster } from '../../../src/modern/model.ts';
import { modernPlan } from '../../../src/modern/plan.ts';
import { parseModernProbe } from '../../../src/modern/probe.ts';
import { actualBorrowLines, actualLendLines, desiredBorrowLines, desiredLendLines } from '../../../src/modern/state.ts';
import {
  classifyModernDmesg,
  mirrorHealth,
  modernFindings,
  modernStatus,
  verifyModernNode,
} from '../../../src/modern/verify.ts';

const fixture = (name: string) =>
  readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'modern', name), 'utf8');
const cluster: ModernCluster = {
  name: 'ramster',
  group: 'lab',
  backend: 'modern',
  topology: 'one-way',
  modern: {
    nvmePort: 4420,
    replicas: 1,
    lendMb: 768,
    zswapCompressor: 'lz4',
    zswapMaxPoolPercent: 20,
    auth: 'none',
    authRotation: 0,
    encryption: 'none',
  },
  nodes: [
    { host: 'node1', hostname: 'system1', number: 0, clusterAddress: '10.99.0.11', targets: [1] },
    { host: 'node2', hostname: 'system2', number: 1, clusterAddress: '10.99.0.12', targets: [] },
  ],
};
const borrower = modernPlan(cluster, cluster.nodes[0]);
const lender = modernPlan(cluster, cluster.nodes[1]);
const borrowerText = fixture('probe-borrower.txt');
const lenderText = fixture('probe-lender.txt');

describe('modern state from a converged lab pair', () => {
  it('the live state read from the guests is exactly the planned one, on both sides', () => {
    expect(actualBorrowLines(parseModernProbe(borrowerText), borrower)).toEqual(desiredBorrowLines(borrower));
    expect(actualLendLines(parseModernProbe(lenderText), lender)).toEqual(desiredLendLines(lender));
    // and each node has nothing of the other side
    expect(actualLendLines(parseModernProbe(borrowerText), borrower)).toEqual([]);
    expect(actualBorrowLines(parseModernProbe(lenderText), lender)).toEqual([]);
  });

  it('every verify check passes, with the evidence seen', () => {
    const b = verifyModernNode(borrower, parseModernProbe(borrowerText));
    const l = verifyModernNode(lender, parseModernProbe(lenderText));
    expect([...b, ...l].filter((c) => c.status === 'fail')).toEqual([]);
    // the fixtures' cluster says auth: none: each side warns that its pair is not authenticated
    expect([...b, ...l].filter((c) => c.status === 'warn').map((c) => c.id)).toEqual(['auth-1', 'auth-lend-0']);
    expect(b.map((c) => c.id)).toEqual(['borrow-unit', 'connection-1', 'auth-1', 'remote-swap', 'zswap']);
    expect(l.map((c) => c.id)).toEqual(['lend-unit', 'exports', 'auth-lend-0']);
    expect(b.find((c) => c.id === 'remote-swap')!.evidence).toMatch(/^\/dev\/nvme0n1 priority 32767/);
  });

  it('status: the lender holds the pages the borrower keeps remotely, I/O counted on the path device', () => {
    const s = modernStatus(lender, parseModernProbe(lenderText));
    expect(s.role).toBe('lends to node1');
    expect(s.foreign_pages).toBeGreaterThan(0);
    expect(s.foreign_by_node.node1).toBe(s.foreign_pages);
    const b = modernStatus(borrower, parseModernProbe(borrowerText));
    expect(b.role).toBe('borrows from node2');
    expect(b.connections).toEqual({ node2: 'live' });
    expect(b.remote_pages).toBe(64); // 256 KiB used in /proc/swaps
    expect(b.remote_pages_read).toBeGreaterThan(0);
    expect(b.remote_pages_written).toBeGreaterThan(0);
  });

  it('a lost link: the state diff names it, verify fails with what to check, doctor classifies the kernel line', () => {
    const lost = `${borrowerText.replace(/^nvme0 tcp live /m, 'nvme0 tcp connecting ')}`;
    const p = parseModernProbe(
      lost.replace('@end', '[  99.1] nvme nvme0: failed to connect socket: -111\n@end').replace('@dmesg\n', '@dmesg\n'),
    );
    expect(actualBorrowLines(p, borrower)).not.toEqual(desiredBorrowLines(borrower));
    const c = verifyModernNode(borrower, p).find((x) => x.id === 'connection-1')!;
    expect(c.status).toBe('fail');
    expect(c.fix).toMatch(/reconnects every 2 s.*node2 is up.*ramster-lend\.service.*ping 10\.99\.0\.12/);
    expect(classifyModernDmesg(['[  99.1] nvme nvme0: failed to connect socket: -111'])[0].class).toBe(
      'config-mismatch',
    );
    // doctor: the failing check first, then the kernel line
    expect(
      modernFindings(borrower, p)
        .filter((f) => f.class !== 'harmless' && f.class !== 'warning')
        .map((f) => f.what),
    ).toEqual([
      'connected to node2 (node 1, 10.99.0.12:4420)',
      classifyModernDmesg(['nvme nvme0: failed to connect socket'])[0].what,
    ]);
  });

  it('an export open to any host fails the privacy check', () => {
    const open = lenderText.replace(/^(subsystem \S+) 0$/m, '$1 1');
    const checks = verifyModernNode(lender, parseModernProbe(open));
    expect(checks.find((c) => c.id === 'private')?.status).toBe('fail');
    expect(checks.find((c) => c.id === 'exports')?.status).toBe('fail');
  });

  it('mirror health from /proc/mdstat: in sync, degraded', () => {
    const base = parseModernProbe(borrowerText);
    const md = (stat: string) => ({
      ...base,
      mdLinks: new Map([['/dev/md/ramster-swap', '/dev/md127']]),
      mdstat: stat,
    });
    expect(
      mirrorHealth(
        md(
          'Personalities : [raid1]\nmd127 : active raid1 nvme1n1[1] nvme0n1[0]\n      786368 blocks super 1.2 [2/2] [UU]\n',
        ),
      ).inSync,
    ).toBe(true);
    const degraded = mirrorHealth(
      md(
        'Personalities : [raid1]\nmd127 : active raid1 nvme1n1[1](F) nvme0n1[0]\n      786368 blocks super 1.2 [2/1] [U_]\n',
      ),
    );
    expect(degraded).toEqual({ inSync: false, rebuilding: false, evidence: 'md127 [2/1] [U_]' });
    const rebuilding = mirrorHealth(
      md(
        'Personalities : [raid1]\nmd127 : active raid1 nvme2n1[2] nvme0n1[0]\n      786368 blocks super 1.2 [2/1] [U_]\n      [==========>..........]  recovery = 50.9% (400768/786368) finish=0.2min speed=26717K/sec\n',
      ),
    );
    expect(rebuilding).toEqual({ inSync: false, rebuilding: true, evidence: 'md127 [2/1] [U_], recovery 50.9%' });
    expect(classifyModernDmesg(['md/raid1:md127: Disk failure on nvme1n1, disabling device.'])[0].class).toBe(
      'config-mismatch',
    );
  });
});
