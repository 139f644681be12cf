/**
 * Benchmark (not a test): the same memory workload on the same 512 MiB guest, swapping onto
 * another guest's RAM over NVMe/TCP (the modern backend) in four arms — plain, with DH-HMAC-CHAP,
 * with dm-crypt under the swap, with both (the default) — and onto a swap file on its own virtual
 * disk, in one run. Prints a table with medians, each arm's cost over the plain remote arm and the
 * disk ratio, and writes test/bench/modern-results.json.
 *
 *   npm run bench:modern [-- --runs 3 --mib 640 --memory-max 192 --distro trixie]
 *
 * Both guests run under TCG here (no usable KVM), so absolute times are slow; the ratios are the
 * figures. zswap stays enabled in every arm (the data is incompressible, so it rejects the pages
 * and they reach the swap device either way). Authentication needs Debian 13's kernel (the
 * default distro here); on bookworm the auth arms are left out.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../../src/guestimage/paths.ts';
import { cliJson, explain } from '../lab/cli.ts';
import { downTestLab, onGuest, upTestLab } from '../lab/helpers.ts';
import { modernInventory, startWorkload, waitWorkload } from '../lab/modern-helpers.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    mib: { type: 'string', default: '640' },
    'memory-max': { type: 'string', default: '192' },
    distro: { type: 'string', default: 'trixie' },
  },
});
const distro = values.distro === 'bookworm' ? 'bookworm' : 'trixie';

/** The remote arms, each an inventory's settings; the first is the plain one the others are
 *  compared with. */
const ARMS = [
  { label: 'remote', what: 'plain', settings: { auth: 'none', encryption: 'none' } },
  { label: 'remote-auth', what: 'DH-HMAC-CHAP', settings: { auth: 'dhchap', encryption: 'none' } },
  { label: 'remote-crypt', what: 'dm-crypt', settings: { auth: 'none', encryption: 'dm-crypt' } },
  { label: 'remote-both', what: 'DH-HMAC-CHAP + dm-crypt', settings: { auth: 'dhchap', encryption: 'dm-crypt' } },
].filter((a) => distro === 'trixie' || a.settings.auth === 'none');
const runs = Number(values.runs);
const mib = Number(values.mib);
const memoryMaxMb = Number(values['memory-max']);
const LEND_MB = 1024;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

async function main(): Promise<void> {
  const lab = await upTestLab('bench-modern', { backend: 'modern', guestMemoryMb: [512, 1536], distro });
  try {
    /** The borrower on an arm's settings: its swap comes home first (a connection made without
     *  keys cannot take them), then apply. */
    const armUp = async (arm: (typeof ARMS)[number]) => {
      await onGuest(lab.state, 'node1', 'systemctl stop ramster-borrow.service 2>/dev/null; true', 600_000);
      const inventory = modernInventory(lab, arm.label, {
        topology: 'one-way',
        lend_mb: LEND_MB,
        zswap_compressor: 'lz4',
        ...arm.settings,
      });
      const apply = await cliJson(['apply', '-i', inventory], 1_200_000);
      if (apply.code !== 0) throw new Error(`apply of the ${arm.label} arm failed:\n${explain(apply)}`);
    };

    const timeRuns = async (label: string) => {
      const seconds: number[] = [];
      for (let i = 0; i < runs; i++) {
        const w = await startWorkload(lab, 'node1', { mib, holdS: 0, memoryMaxMb, unit: `bench-${label}-${i}` });
        const start = Date.now();
        const out = await waitWorkload(lab, 'node1', w, /^(ok|BAD)/m, 3_600_000);
        if (!/^ok /m.test(out)) throw new Error(`${label} run ${i}: ${out}`);
        // the workload's own clock (allocation + read-back), not SSH polling
        seconds.push(Number(out.match(/^ok ([\d.]+)/m)![1]));
        console.log(
          `${label} run ${i + 1}/${runs}: ${seconds.at(-1)} s (wall ${((Date.now() - start) / 1000).toFixed(0)} s)`,
        );
      }
      return seconds;
    };

    const swaps = () => onGuest(lab.state, 'node1', 'tail -n +2 /proc/swaps');
    const arms: Record<string, number[]> = {};
    for (const arm of ARMS) {
      await armUp(arm);
      console.log(`${arm.label} arm (${arm.what}), swaps:\n${await swaps()}`);
      arms[arm.label] = await timeRuns(arm.label);
    }
    const remote = arms.remote;

    // Local arm: the same size of swap on the guest's virtio disk, the remote swap off.
    await onGuest(
      lab.state,
      'node1',
      `set -e
       systemctl stop ramster-borrow.service
       [ -f /swapfile ] || { fallocate -l ${LEND_MB}M /swapfile; chmod 600 /swapfile; mkswap /swapfile >/dev/null; }
       swapon --discard -p 32767 /swapfile`,
      600_000,
    );
    console.log(`local arm, swaps:\n${await swaps()}`);
    const local = await timeRuns('local');
    await onGuest(
      lab.state,
      'node1',
      'swapoff /swapfile && rm -f /swapfile && systemctl start ramster-borrow.service',
      600_000,
    );

    const result = {
      date: new Date().toISOString(),
      command: `npm run bench:modern -- --runs ${runs} --mib ${mib} --memory-max ${memoryMaxMb}`,
      setup: `2 QEMU guests (Debian ${distro}, TCG, 1 vCPU): borrower 512 MiB RAM, workload ${mib} MiB of incompressible pages in a cgroup with MemoryMax=${memoryMaxMb}M; remote = NVMe/TCP namespace (plain, with DH-HMAC-CHAP, with dm-crypt under the swap, with both) on the lender's tmpfs over the lab's UDP socket link; local = swap file on the borrower's virtio disk (qcow2 on the host's disk, cache=unsafe)`,
      runs,
      remoteSeconds: remote,
      localSeconds: local,
      medianRemote: median(remote),
      medianLocal: median(local),
      ratioLocalOverRemote: Number((median(local) / median(remote)).toFixed(2)),
      distro,
      arms: Object.fromEntries(
        ARMS.map((a) => [
          a.label,
          {
            what: a.what,
            seconds: arms[a.label],
            median: median(arms[a.label]),
            overPlain: Number((median(arms[a.label]) / median(remote)).toFixed(2)),
          },
        ]),
      ),
    };
    writeFileSync(join(REPO_ROOT, 'test', 'bench', 'modern-results.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log('\n| swap on                         | median workload time | runs |');
    console.log('|---------------------------------|---------------------:|-----:|');
    for (const a of ARMS)
      console.log(
        `| ${`another guest's RAM, ${a.what}`.padEnd(31)} | ${result.arms[a.label].median.toFixed(1).padStart(18)} s | ${runs.toString().padStart(4)} | ${result.arms[a.label].overPlain}× plain`,
      );
    console.log(
      `| the guest's virtual disk        | ${result.medianLocal.toFixed(1).padStart(18)} s | ${runs.toString().padStart(4)} |`,
    );
    console.log(`\nlocal disk / remote RAM: ${result.ratioLocalOverRemote}× (above 1: remote RAM is faster)`);
  } finally {
    await downTestLab(lab.dir, { remove: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
