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
import { MODERN_PROBE_SCRIPT, parseModernProbe } from '../../../src/modern/probe.ts';
import { FIXTURE_NONCE, fixtureFrames } from '../../helpers/frames.ts';
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
    expect(actualBorrowLines(parseModernProbe(fixtureFrames(borrowerText)), borrower)).toEqual(
      desiredBorrowLines(borrower),
    );
    expect(actualLendLines(parseModernProbe(fixtureFrames(lenderText)), lender)).toEqual(desiredLendLines(lender));
    // and each node has nothing of the other side
    expect(actualLendLines(parseModernProbe(fixtureFrames(borrowerText)), borrower)).toEqual([]);
    expect(actualBorrowLines(parseModernProbe(fixtureFrames(lenderText)), lender)).toEqual([]);
  });

  it('every verify check passes, with the evidence seen', () => {
    const b = verifyModernNode(borrower, parseModernProbe(fixtureFrames(borrowerText)));
    const l = verifyModernNode(lender, parseModernProbe(fixtureFrames(lenderText)));
    expect([...b, ...l].filter((c) => c.status === 'fail')).toEqual([]);
    // the fixtures' cluster says auth: none: each side warns that its pair is not authenticated
    // and encryption: none: the borrower warns that its pages leave in clear
    expect([...b, ...l].filter((c) => c.status === 'warn').map((c) => c.id)).toEqual([
      'auth-1',
      'encryption-1',
      'auth-lend-0',
    ]);
    expect(b.map((c) => c.id)).toEqual([
      'borrow-unit',
      'connection-1',
      'auth-1',
      'encryption-1',
      'remote-swap',
      'zswap',
    ]);
    expect(l.map((c) => c.id)).toEqual(['lend-unit', 'exports', 'auth-lend-0']);
    expect(b.find((c) => c.id === 'remote-swap')!.evidence).toMatch(/^\/dev\/nvme0n1 priority 32767/);
  });

  it('status: the lender holds the pages the borrower keeps remotely, I/O counted on the path device', () => {
    const s = modernStatus(lender, parseModernProbe(fixtureFrames(lenderText)));
    expect(s.role).toBe('lends to node1');
    expect(s.foreign_pages).toBeGreaterThan(0);
    expect(s.foreign_by_node.node1).toBe(s.foreign_pages);
    const b = modernStatus(borrower, parseModernProbe(fixtureFrames(borrowerText)));
    expect(b.role).toBe('borrows from node2');
    expect(b.connections).toEqual({ node2: 'live' });
    expect(b.remote_pages).toBe(64); // 256 KiB used in /proc/swaps
    expect(b.remote_pages_read).toBeGreaterThan(0);
    expect(b.remote_pages_written).toBeGreaterThan(0);
  });

  it('a lost link: the state diff names it, verify fails with what to check, doctor classifies the kernel line', () => {
    const lost = `${borrowerText.replace(/^nvme0 tcp live /m, 'nvme0 tcp connecting ')}`;
    const p = parseModernProbe(
      fixtureFrames(
        lost.replace(
          `\n@@rp ${FIXTURE_NONCE} end`,
          `[  99.1] nvme nvme0: failed to connect socket: -111\n\n@@rp ${FIXTURE_NONCE} end`,
        ),
      ),
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
    const checks = verifyModernNode(lender, parseModernProbe(fixtureFrames(open)));
    expect(checks.find((c) => c.id === 'private')?.status).toBe('fail');
    expect(checks.find((c) => c.id === 'exports')?.status).toBe('fail');
  });

  it('mirror health from /proc/mdstat: in sync, degraded', () => {
    const base = parseModernProbe(fixtureFrames(borrowerText));
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

/** The converged borrower with its swap on dm-crypt over the namespace: the probe's @crypt line,
 *  and /proc/swaps naming the mapping's dm device. */
const encryptedText = borrowerText
  .replace(
    `@@rp ${FIXTURE_NONCE} swaps\n`,
    `@@rp ${FIXTURE_NONCE} crypt\ndm dm-0 ramster-swap-crypt nvme0n1, crypt aes-xts-plain64 discards\n\n@@rp ${FIXTURE_NONCE} swaps\n`,
  )
  .replace(/^\/dev\/nvme0n1 (\s+partition)/m, '/dev/dm-0 $1')
  .replace(/^\/dev\/nvme0n1 ramster-remote$/m, '/dev/dm-0 ramster-remote');
const encryptedPlan = modernPlan(
  { ...cluster, modern: { ...cluster.modern, encryption: 'dm-crypt' } },
  cluster.nodes[0],
);

describe('modern encryption (dm-crypt under the swap)', () => {
  it('the plan wants the mapping over the namespace and the swap on it; the probe of such a node matches', () => {
    const want = desiredBorrowLines(encryptedPlan);
    expect(want.slice(-2)).toEqual([
      `dm-crypt /dev/mapper/ramster-swap-crypt (aes-xts-plain64, key made at boot, discards) over namespace ${encryptedPlan.borrows[0].subsystem}`,
      'swap on dm-crypt /dev/mapper/ramster-swap-crypt, label ramster-remote, priority 32767',
    ]);
    expect(actualBorrowLines(parseModernProbe(fixtureFrames(encryptedText)), encryptedPlan)).toEqual(want);
    // a node swapping in clear differs from that plan (apply switches it), and the other way round
    expect(actualBorrowLines(parseModernProbe(fixtureFrames(borrowerText)), encryptedPlan)).not.toEqual(want);
    expect(actualBorrowLines(parseModernProbe(fixtureFrames(encryptedText)), borrower)).not.toEqual(
      desiredBorrowLines(borrower),
    );
  });

  it('with replicas 2 the mapping sits over the mirror', () => {
    const three = {
      ...cluster,
      modern: { ...cluster.modern, replicas: 2 as const, encryption: 'dm-crypt' as const },
      nodes: [
        { ...cluster.nodes[0], targets: [1, 2] },
        { ...cluster.nodes[1], targets: [] },
        { host: 'node3', hostname: 'system3', number: 2, clusterAddress: '10.99.0.13', targets: [] },
      ],
    };
    const lines = desiredBorrowLines(modernPlan(three, three.nodes[0]));
    expect(lines).toContain(
      'dm-crypt /dev/mapper/ramster-swap-crypt (aes-xts-plain64, key made at boot, discards) over mirror /dev/md/ramster-swap',
    );
    expect(lines.indexOf('mirror /dev/md/ramster-swap active (raid1 over 2 namespaces)')).toBeLessThan(
      lines.findIndex((l) => l.startsWith('dm-crypt ')),
    );
  });

  it('verify: each connection passes when its pages go through the mapping, fails when not; none warns; status says which', () => {
    const enc = parseModernProbe(fixtureFrames(encryptedText));
    const check = (plan: typeof borrower, p: typeof enc) =>
      verifyModernNode(plan, p).find((c) => c.id === 'encryption-1')!;
    const ok = check(encryptedPlan, enc);
    expect(ok.status).toBe('pass');
    expect(ok.title).toBe('pages to node2 (node 1) leave encrypted (dm-crypt, key made at boot)');
    expect(ok.evidence).toBe('swap on /dev/mapper/ramster-swap-crypt (aes-xts-plain64) over nvme0n1');
    expect(verifyModernNode(encryptedPlan, enc).filter((c) => c.status === 'fail')).toEqual([]);
    // planned, but the swap is still on the namespace itself
    const clear = check(encryptedPlan, parseModernProbe(fixtureFrames(borrowerText)));
    expect(clear.status).toBe('fail');
    expect(clear.evidence).toBe('swap is not on /dev/mapper/ramster-swap-crypt');
    // a mapping over some other device does not protect this connection
    const elsewhere = check(
      encryptedPlan,
      parseModernProbe(fixtureFrames(encryptedText.replace('nvme0n1, crypt', 'sda, crypt'))),
    );
    expect(elsewhere.status).toBe('fail');
    expect(elsewhere.evidence).toMatch(/over sda, not over nvme0n1$/);
    const none = check(borrower, parseModernProbe(fixtureFrames(borrowerText)));
    expect(none.status).toBe('warn');
    expect(none.fix).toMatch(/remove `encryption: none`.*swapoff, refused when the node has too little room/);
    expect(modernStatus(encryptedPlan, enc).encryption).toEqual({ node2: 'dm-crypt' });
    expect(modernStatus(borrower, parseModernProbe(fixtureFrames(borrowerText))).encryption).toEqual({ node2: 'none' });
  });

  it('the probe keeps only the cipher of a crypt table: its key field is never read', () => {
    expect(MODERN_PROBE_SCRIPT).toMatch(/dmsetup table "\$n" 2>\/dev\/null \| awk 'NR == 1 \{ print \$3, \$4, /);
    expect(MODERN_PROBE_SCRIPT).not.toMatch(/showkeys|\$5/);
    expect(parseModernProbe(fixtureFrames(encryptedText)).crypt).toEqual([
      {
        dm: 'dm-0',
        name: 'ramster-swap-crypt',
        slaves: ['nvme0n1'],
        target: 'crypt',
        cipher: 'aes-xts-plain64',
        discards: true,
      },
    ]);
  });
});
