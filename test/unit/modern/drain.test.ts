/** Lender maintenance (issue 14 item 4): `ramster-modern drain-check`'s parser, the room check,
 *  the hosts a drain runs on, the reboot step's refusal on a lending host, the borrower's step
 *  (all or nothing, progress, read-back) against a scripted host, and the CLI's flags. */
import { framedAnswer, framesOf } from '../../helpers/frames.ts';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { computeTargets } from '../../../src/cluster/topology.ts';
import {
  drainHosts,
  drainRefusal,
  drainRoom,
  drainSummary,
  parseDrainCheck,
  parseLentExports,
  rebootRefusal,
  swapoffProgress,
} from '../../../src/modern/drain.ts';
import { type ModernCluster, modernSettings } from '../../../src/modern/model.ts';
import { modernReleaseStep, modernUnlendStep } from '../../../src/steps/modern/drain.ts';
import type { ClusterPeers, StepContext } from '../../../src/steps/types.ts';
import type { ExecOptions, ExecResult, Transport } from '../../../src/transport/types.ts';
import { CLI } from '../../helpers/cli.ts';
import { makeCtx } from '../steps/helpers.ts';

const SUB = 'nqn.2026-11.io.ramster-provision:lab:lend:node1-to-node0';
const CHECK = [
  'lender 1',
  `namespace ${SUB} /dev/nvme0n1`,
  `controller nvme0 ${SUB} live`,
  'swap /dev/nvme0n1 409600 home',
  'memavailable 307200',
  'otherfree 0',
].join('\n');

function cluster(
  topology: 'one-way' | 'symmetric' | 'ram-server' = 'one-way',
  n = 2,
  replicas: 1 | 2 = 1,
): ModernCluster {
  const nums = [...Array(n).keys()];
  const targets = computeTargets(nums, topology, new Map(), replicas);
  return {
    name: 'lab',
    group: 'lab',
    backend: 'modern',
    topology,
    modern: modernSettings({ replicas }),
    nodes: nums.map((i) => ({
      host: `g${i}`,
      hostname: `g${i}`,
      number: i,
      clusterAddress: `10.99.0.${10 + i}`,
      targets: targets.get(i)!,
    })),
  };
}

describe('drain-check parser', () => {
  it('reads every fact: namespaces, controllers, swaps coming home or mirrored, memory', () => {
    const c = parseDrainCheck(
      `${CHECK}\nmirror md127 nvme1n1 0 idle 2\nswap /dev/mapper/ramster-swap-crypt 1024 mirrored\n`,
    );
    expect(c).toEqual({
      lender: 1,
      namespaces: [{ subsystem: SUB, device: '/dev/nvme0n1' }],
      controllers: [{ name: 'nvme0', subsystem: SUB, state: 'live' }],
      mirrors: [{ md: 'md127', leg: 'nvme1n1', degraded: 0, syncAction: 'idle', raidDisks: 2 }],
      swaps: [
        { device: '/dev/nvme0n1', usedKb: 409600, mirrored: false },
        { device: '/dev/mapper/ramster-swap-crypt', usedKb: 1024, mirrored: true },
      ],
      memAvailableKb: 307200,
      otherFreeKb: 0,
    });
    expect(parseDrainCheck(`lender 1\nnamespace ${SUB} -\nmemavailable 5\notherfree 6`).namespaces).toEqual([
      { subsystem: SUB, device: undefined },
    ]);
  });

  it('refuses what it cannot read, so a wrong answer never passes for room', () => {
    expect(() => parseDrainCheck(CHECK.replace('memavailable 307200', 'memavailable'))).toThrow(
      /no number for MemAvailable/,
    );
    expect(() => parseDrainCheck(CHECK.replace('swap /dev/nvme0n1 409600', 'swap /dev/nvme0n1 lots'))).toThrow(
      /no number for the pages in use/,
    );
    expect(() => parseDrainCheck(`${CHECK}\nwhatever 1`)).toThrow(/unknown line 'whatever 1'.*older/);
    expect(() => parseDrainCheck('lender 1\n')).toThrow(/no lender, MemAvailable or free swap/);
    expect(() => parseDrainCheck('')).toThrow(/no lender/);
    expect(() => parseDrainCheck(`${CHECK}\nswap /dev/x 5 sideways`)).toThrow(/unknown line/);
  });
});

describe('room check', () => {
  const c = parseDrainCheck(CHECK); // 400 MiB out, 300 MiB available, no other swap

  it('refuses when the pages exceed MemAvailable + other free swap - the reserve, naming the numbers and the fix', () => {
    expect(drainRoom(c, 64)).toEqual({ usedKb: 409600, roomKb: 307200 - 65536 });
    expect(drainRefusal(c, 'g0', 'g1', 64)).toBe(
      'g0 has no room for its pages on g1: /dev/nvme0n1 holds 400 MiB, and MemAvailable 300 MiB + other free swap 0 MiB - 64 MiB kept free (--reserve-mb) = 236 MiB: stop or shrink the workload on g0, or add local swap there (a swap file), then drain again; nothing was changed',
    );
  });

  it('passes with room: RAM plus the other swap devices, less the reserve; the equal case is refused', () => {
    const roomy = parseDrainCheck(CHECK.replace('otherfree 0', 'otherfree 204800'));
    expect(drainRefusal(roomy, 'g0', 'g1', 64)).toBeUndefined();
    expect(drainRefusal(roomy, 'g0', 'g1', 100)).toMatch(/= 400 MiB/); // 300 + 200 - 100 = 400: not more
    expect(drainRefusal(roomy, 'g0', 'g1', 99)).toBeUndefined();
    expect(drainRefusal(parseDrainCheck(CHECK.replace(' 409600 ', ' 0 ')), 'g0', 'g1', 100000)).toBeUndefined();
  });

  it('a mirrored swap needs no room (the other leg keeps the pages), but a degraded or busy mirror is refused', () => {
    const m = parseDrainCheck(`${CHECK.replace('409600 home', '409600 mirrored')}\nmirror md127 nvme0n1 0 idle 2`);
    expect(drainRefusal(m, 'g0', 'g1', 64)).toBeUndefined();
    expect(drainSummary(m, 'g1')).toBe(
      'drain g1: fail and remove leg /dev/nvme0n1 of /dev/md127 (degraded until apply), disconnect nvme0',
    );
    const degraded = parseDrainCheck(`${CHECK}\nmirror md127 nvme0n1 1 idle 2`);
    expect(drainRefusal(degraded, 'g0', 'g1', 64)).toMatch(
      /already degraded, so its leg \/dev\/nvme0n1 on g1 may hold the only good copy: run ramster-provision apply/,
    );
    const busy = parseDrainCheck(`${CHECK}\nmirror md127 nvme0n1 0 resync 2`);
    expect(drainRefusal(busy, 'g0', 'g1', 64)).toMatch(/busy \(resync\): wait until \/proc\/mdstat shows it idle/);
  });

  it('summary and progress lines', () => {
    expect(drainSummary(c, 'g1')).toBe('drain g1: swapoff /dev/nvme0n1 (400 MiB home), disconnect nvme0');
    expect(drainSummary(parseDrainCheck('lender 1\nmemavailable 1\notherfree 1'), 'g1')).toBe(
      'drain g1: nothing connected',
    );
    expect(swapoffProgress('/dev/nvme0n1', 409600, 102400, 30)).toBe(
      'swapoff /dev/nvme0n1: 100 of 400 MiB still out, 75% home (30 s)',
    );
  });
});

describe('drain hosts', () => {
  it('the lenders named and every borrower of theirs', () => {
    expect(drainHosts([cluster()], ['g1'])).toEqual({ lenders: ['g1'], hosts: ['g1', 'g0'] });
    const server = cluster('ram-server', 4);
    const lender = server.nodes.find((n) => server.nodes.some((b) => b.targets.includes(n.number)))!;
    expect(drainHosts([server], [lender.host]).hosts.length).toBe(4);
  });

  it('refuses, with the fix: no host, a host in no cluster, a legacy node, a node that lends nothing', () => {
    expect(() => drainHosts([cluster()], [])).toThrow(/--limit the lenders|name the lenders to drain with --limit/);
    expect(() => drainHosts([cluster()], ['web1'])).toThrow(/web1 is in no cluster/);
    expect(() => drainHosts([{ ...cluster(), backend: 'legacy' }], ['g1'])).toThrow(
      /legacy backend: drain needs backend: modern/,
    );
    expect(() => drainHosts([cluster()], ['g0'])).toThrow(/g0 lends to no node .*nothing to drain/);
  });
});

describe('the reboot step on a lender', () => {
  it('a host with live exports of ours is refused, naming its borrowers and drain; none: allowed', () => {
    const exports = parseLentExports(framesOf(`@lends\n${SUB}\n`));
    expect(exports).toEqual([SUB]);
    expect(rebootRefusal('g1', exports)).toMatch(
      /^g1 lends RAM to node 0 \(nvmet exports .*\): rebooting it now loses the pages they keep there\. Run ramster-provision drain -i <inventory> --limit g1 first/,
    );
    expect(rebootRefusal('g1', parseLentExports(framesOf('@lends\n')))).toBeUndefined();
  });
});

/** A host that answers ramster-modern's commands from a script, recording them. */
function scriptedHost(answers: (cmd: string) => ExecResult): Transport & { commands: string[] } {
  const commands: string[] = [];
  return {
    kind: 'ssh',
    target: 'root@g0',
    root: '',
    roundTrips: 0,
    commands,
    async exec(script: string, _o?: ExecOptions) {
      commands.push(script);
      const r = answers(script);
      // drain-check's output comes back in one frame (src/frame.ts), as the real step reads it
      if (script.includes('rp_frame drain-check'))
        return { ...r, stdout: framedAnswer(script, `@drain-check\n${r.stdout}`) };
      return r;
    },
    async close() {},
  };
}

/** The context of host `host` of a two-node cluster whose peers exchange through `peers`. */
function ctxOf(host: string, t: Transport, apply: boolean, peers: ClusterPeers): StepContext {
  const c = cluster();
  const node = c.nodes.find((n) => n.host === host)!;
  return { ...makeCtx(t, apply), host, inCluster: { cluster: c, node }, cluster: peers };
}

const ok = (stdout: string): ExecResult => ({ code: 0, stdout, stderr: '' });

describe('modern_release and modern_unlend', () => {
  it('a refusal on one borrower is shared: it fails with the numbers, and nothing runs but drain-check', async () => {
    const t = scriptedHost(() => ok(CHECK));
    const exchanged: string[] = [];
    const peers: ClusterPeers = {
      members: ['g0', 'g1'],
      share: new Map(),
      exchange: async <T>(key: string, v: T) => {
        exchanged.push(key);
        return new Map([['g0', v]]) as Map<string, T>;
      },
    };
    await expect(
      modernReleaseStep.checkApply({ lenders: ['g1'], reserve_mb: 64 }, ctxOf('g0', t, true, peers)),
    ).rejects.toThrow(/g0 has no room for its pages on g1: \/dev\/nvme0n1 holds 400 MiB/);
    expect(exchanged).toEqual(['drain-refusals']);
    expect(t.commands).toHaveLength(1);
    expect(t.commands[0]).toMatch(/\nrp_frame drain-check\n\/usr\/sbin\/ramster-modern drain-check 1$/);
    expect(peers.share?.size).toBe(0);
  });

  it("another borrower's refusal stops this one before any change (all or nothing)", async () => {
    const t = scriptedHost(() => ok(CHECK.replace('otherfree 0', 'otherfree 9999999')));
    const peers: ClusterPeers = {
      members: ['g0', 'g1'],
      exchange: async <T>(_k: string, v: T) =>
        new Map([
          ['g0', v],
          ['g2', 'g2 has no room' as T],
        ]),
    };
    await expect(modernReleaseStep.checkApply({ lenders: ['g1'] }, ctxOf('g0', t, true, peers))).rejects.toThrow(
      /not drained: g2 refused .*nothing was changed on g0/,
    );
    expect(t.commands.every((c) => c.includes('drain-check'))).toBe(true);
  });

  it('with room: the dry run says what; the apply runs drain with the reserve in kB, reads back, and marks the borrower home', async () => {
    let drained = false;
    const t = scriptedHost((cmd) => {
      if (cmd.includes(' drain 1 ')) {
        drained = true;
        return ok('ramster-modern: swap off /dev/nvme0n1: 400 MiB home in 12 s\n');
      }
      if (cmd.includes('drain-check'))
        return ok(
          drained ? 'lender 1\nmemavailable 700000\notherfree 0\n' : CHECK.replace('otherfree 0', 'otherfree 409600'),
        );
      return ok('');
    });
    const share = new Map<string, unknown>();
    const peers: ClusterPeers = {
      members: ['g0', 'g1'],
      share,
      exchange: async <T>(_k: string, v: T) => new Map([['g0', v]]),
    };
    const dry = await modernReleaseStep.checkApply({ lenders: ['g1'], reserve_mb: 64 }, ctxOf('g0', t, false, peers));
    expect(dry).toEqual({
      action: 'delete',
      summary: 'drain g1: swapoff /dev/nvme0n1 (400 MiB home), disconnect nvme0',
    });
    expect(t.commands.some((c) => c.includes(' drain 1'))).toBe(false);
    const applied = await modernReleaseStep.checkApply(
      { lenders: ['g1'], reserve_mb: 64 },
      ctxOf('g0', t, true, peers),
    );
    expect(applied.summary).toBe(
      'drain g1: swapoff /dev/nvme0n1 (400 MiB home), disconnect nvme0 — swap off /dev/nvme0n1: 400 MiB home in 12 s',
    );
    expect(t.commands).toContain('/usr/sbin/ramster-modern drain 1 65536');
    expect(share.get('drain/released/g1/g0')).toBe(true);
  });

  it('a drain that leaves the controller connected fails with what is left', async () => {
    const t = scriptedHost((cmd) =>
      ok(cmd.includes(' drain 1 ') ? '' : CHECK.replace('otherfree 0', 'otherfree 409600')),
    );
    const peers: ClusterPeers = {
      members: ['g0'],
      share: new Map(),
      exchange: async <T>(_k: string, v: T) => new Map([['g0', v]]),
    };
    await expect(modernReleaseStep.checkApply({ lenders: ['g1'] }, ctxOf('g0', t, true, peers))).rejects.toThrow(
      /ran on g0, but nvme0 still connected \(live\), \/dev\/nvme0n1 still swapped on \(400 MiB\)/,
    );
  });

  it('an old ramster-modern without drain-check: the fix is to install this version with --tags tools', async () => {
    const t = scriptedHost(() => ({ code: 2, stdout: '', stderr: 'usage' }));
    const peers: ClusterPeers = { members: ['g0'], exchange: async <T>(_k: string, v: T) => new Map([['g0', v]]) };
    await expect(modernReleaseStep.checkApply({ lenders: ['g1'] }, ctxOf('g0', t, true, peers))).rejects.toThrow(
      /has no drain-check \(exit 2\): install this version's with ramster-provision apply .*--tags tools/,
    );
  });

  it('the lender stops lending only when every borrower came home in this run', async () => {
    const t = scriptedHost((cmd) => ok(framedAnswer(cmd, `@nvmet\nsubsystem ${SUB} 0\n@end\n`)));
    const share = new Map<string, unknown>();
    const peers: ClusterPeers = {
      members: ['g0', 'g1'],
      share,
      exchange: async <T>(_k: string, v: T) => new Map([['g1', v]]),
    };
    await expect(modernUnlendStep.checkApply({ lenders: ['g1'] }, ctxOf('g1', t, true, peers))).rejects.toThrow(
      /g0 did not bring their pages home from g1 in this run .*must not reboot/,
    );
    expect(t.commands).toEqual([]);
    share.set('drain/released/g1/g0', true);
    const dry = await modernUnlendStep.checkApply({ lenders: ['g1'] }, ctxOf('g1', t, false, peers));
    expect(dry.summary).toBe('stop lending to g0 (their pages are home; apply lends again)');
    expect(t.commands.some((c) => c.includes('unlend'))).toBe(false);
    expect((await modernUnlendStep.checkApply({ lenders: ['g2'] }, ctxOf('g1', t, true, peers))).action).toBe('none');
  });
});

const cli = (...args: string[]) => execa('node', [CLI, ...args], { reject: false, env: { NO_COLOR: '1' } });

describe('drain CLI', () => {
  it('--help teaches the procedure, the flags and the exit codes', async () => {
    const r = await cli('drain', '--help');
    expect(r.exitCode).toBe(0);
    for (const s of [
      '--limit',
      '--check',
      '--reserve-mb',
      'MemAvailable',
      'replicas: 2',
      'reboot',
      'apply',
      'Exit codes',
      '130',
    ])
      expect(r.stdout).toContain(s);
    expect((await cli('--help')).stdout).toMatch(/drain -i inventory\.yaml --limit node2/);
  });

  it('refuses without --limit, and a --reserve-mb that is not a whole number, exit 1', async () => {
    const none = await cli('drain', '-i', 'playbooks/inventory.example.yaml');
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toMatch(/drain needs --limit naming the lenders to drain/);
    for (const bad of ['-3', '1.5', 'lots', '']) {
      const r = await cli('drain', '-i', 'playbooks/inventory.example.yaml', '--limit', 'x', '--reserve-mb', bad);
      expect(r.exitCode, bad).toBe(1);
      expect(r.stderr, bad).toMatch(/expected a whole number of MiB/);
    }
  });
});
