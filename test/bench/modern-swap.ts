/**
 * Benchmark (not a test): the same memory workload on the same 512 MiB guest, swapping onto
 * another guest's RAM over NVMe/TCP (the modern backend) in four arms — plain, with DH-HMAC-CHAP,
 * with dm-crypt under the swap, with both (the default) — and onto a swap file on its own virtual
 * disk, in one run. Prints a table with medians, each arm's cost over the plain remote arm and the
 * disk ratio, and writes test/bench/modern-results.json.
 *
 *   npm run bench:modern [-- --runs 3 --mib 640 --memory-max 192 --distro trixie]
 *   npm run bench:modern -- --arms remote,remote-auth --no-local   # some arms only
 *
 * A borrower whose kernel panics (its serial console says so) is restarted, its arm set up again
 * and the run made again, up to 3 times; the panics are printed and kept in the results. A failed
 * run keeps the lab's directory (the guests' serial consoles: kernel messages) and says where.
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
import { GuestPanicError, modernInventory, startWorkload, waitWorkload } from '../lab/modern-helpers.ts';
import { guestOf, sshTarget, startGuest, stopGuest, waitForSsh } from '../../src/lab/index.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    mib: { type: 'string', default: '640' },
    'memory-max': { type: 'string', default: '192' },
    distro: { type: 'string', default: 'trixie' },
    arms: { type: 'string' },
    'no-local': { type: 'boolean', default: false },
  },
});
const distro = values.distro === 'bookworm' ? 'bookworm' : 'trixie';

/** The remote arms, each an inventory's settings; the first is the plain one the others are
 *  compared with. */
const ALL_ARMS = [
  { label: 'remote', what: 'plain', settings: { auth: 'none', encryption: 'none' } },
  { label: 'remote-auth', what: 'DH-HMAC-CHAP', settings: { auth: 'dhchap', encryption: 'none' } },
  { label: 'remote-crypt', what: 'dm-crypt', settings: { auth: 'none', encryption: 'dm-crypt' } },
  { label: 'remote-both', what: 'DH-HMAC-CHAP + dm-crypt', settings: { auth: 'dhchap', encryption: 'dm-crypt' } },
];
/** Authentication needs Debian 13's kernel: on bookworm the auth arms are left out. */
const DISTRO_ARMS = ALL_ARMS.filter((a) => distro === 'trixie' || a.settings.auth === 'none');
const ARMS = DISTRO_ARMS.filter((a) => !values.arms || values.arms.split(',').includes(a.label));
if (!ARMS.length) throw new Error(`--arms: none of ${DISTRO_ARMS.map((a) => a.label).join(', ')}`);
const runs = Number(values.runs);
const mib = Number(values.mib);
const memoryMaxMb = Number(values['memory-max']);
const LEND_MB = 1024;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

type Lab = Awaited<ReturnType<typeof upTestLab>>;
type Arm = (typeof ARMS)[number];

/** The borrower on an arm's settings: its swap comes home first (a connection made without keys
 *  cannot take them), then apply. */
async function armUp(lab: Lab, arm: Arm): Promise<void> {
  await onGuest(lab.state, 'node1', 'systemctl stop ramster-borrow.service 2>/dev/null; true', 600_000);
  const inventory = modernInventory(lab, arm.label, {
    topology: 'one-way',
    lend_mb: LEND_MB,
    zswap_compressor: 'lz4',
    ...arm.settings,
  });
  const apply = await cliJson(['apply', '-i', inventory], 1_200_000);
  if (apply.code !== 0) throw new Error(`apply of the ${arm.label} arm failed:\n${explain(apply)}`);
}

/** Guest kernel panics met on the way (Debian 13's 6.12 has panicked in nvme_tcp_io_work under
 *  this swap pressure): each is reported, the borrower restarted, its arm set up again and the
 *  run made again; a bench that meets more than MAX_PANICS fails. */
const MAX_PANICS = 3;
const panics: { run: string; oops: string }[] = [];

async function restartBorrower(lab: Lab): Promise<void> {
  const g = guestOf(lab.state, 'node1');
  await stopGuest(g);
  await startGuest(lab.state, g);
  await waitForSsh(sshTarget(lab.state, g), { timeoutMs: 900_000 });
}

/** `runs` workloads one after another; each one's own clock (allocation + read-back), not SSH
 *  polling. `setUp` puts the arm back on a restarted borrower. */
async function timeRuns(lab: Lab, label: string, setUp: () => Promise<void>): Promise<number[]> {
  const seconds: number[] = [];
  for (let i = 0; seconds.length < runs; i++) {
    const run = `${label} run ${seconds.length + 1}/${runs}`;
    const w = await startWorkload(lab, 'node1', { mib, holdS: 0, memoryMaxMb, unit: `bench-${label}-${i}` });
    const start = Date.now();
    const out = await waitWorkload(lab, 'node1', w, /^(ok|BAD)/m, 3_600_000).catch(async (e: unknown) => {
      if (!(e instanceof GuestPanicError) || panics.length >= MAX_PANICS) throw e;
      panics.push({ run, oops: e.oops });
      console.log(
        `${run}: the borrower's kernel panicked (${panics.length} so far); restart it and run again:\n${e.oops}`,
      );
      await restartBorrower(lab);
      await setUp();
      return undefined;
    });
    if (out === undefined) continue;
    if (!/^ok /m.test(out)) throw new Error(`${run}: ${out}`);
    seconds.push(Number(out.match(/^ok ([\d.]+)/m)![1]));
    console.log(`${run}: ${seconds.at(-1)} s (wall ${((Date.now() - start) / 1000).toFixed(0)} s)`);
  }
  return seconds;
}

const swaps = (lab: Lab) => onGuest(lab.state, 'node1', 'tail -n +2 /proc/swaps');

/** The same size of swap on the guest's virtio disk, the remote swap off. */
async function localArm(lab: Lab): Promise<number[]> {
  const setUp = () =>
    onGuest(
      lab.state,
      'node1',
      `set -e
       systemctl stop ramster-borrow.service
       [ -f /swapfile ] || { fallocate -l ${LEND_MB}M /swapfile; chmod 600 /swapfile; mkswap /swapfile >/dev/null; }
       swapon --discard -p 32767 /swapfile`,
      600_000,
    ).then(() => undefined);
  await setUp();
  console.log(`local arm, swaps:\n${await swaps(lab)}`);
  const local = await timeRuns(lab, 'local', setUp);
  await onGuest(
    lab.state,
    'node1',
    'swapoff /swapfile && rm -f /swapfile && systemctl start ramster-borrow.service',
    600_000,
  );
  return local;
}

/** The table; with every arm and the local one run, test/bench/modern-results.json too. */
function report(arms: Record<string, number[]>, local: number[] | undefined): void {
  const plain = arms.remote ? median(arms.remote) : undefined;
  const overPlain = (xs: number[]) => (plain ? Number((median(xs) / plain).toFixed(2)) : undefined);
  console.log('\n| swap on                         | median workload time | runs |');
  console.log('|---------------------------------|---------------------:|-----:|');
  for (const a of ARMS) {
    const ratio = overPlain(arms[a.label]);
    console.log(
      `| ${`another guest's RAM, ${a.what}`.padEnd(31)} | ${median(arms[a.label]).toFixed(1).padStart(18)} s | ${runs.toString().padStart(4)} |${ratio === undefined ? '' : ` ${ratio}× plain`}`,
    );
  }
  if (panics.length)
    console.log(
      `the borrower's kernel panicked ${panics.length}× (those runs made again): ${panics.map((p) => p.run).join(', ')}`,
    );
  if (local)
    console.log(
      `| the guest's virtual disk        | ${median(local).toFixed(1).padStart(18)} s | ${runs.toString().padStart(4)} |`,
    );
  if (!local || !plain || ARMS.length < DISTRO_ARMS.length) return;
  const ratioLocalOverRemote = Number((median(local) / plain).toFixed(2));
  console.log(`\nlocal disk / remote RAM: ${ratioLocalOverRemote}× (above 1: remote RAM is faster)`);
  const result = {
    date: new Date().toISOString(),
    command: `npm run bench:modern -- --runs ${runs} --mib ${mib} --memory-max ${memoryMaxMb}`,
    setup: `2 QEMU guests (Debian ${distro}, TCG, 1 vCPU): borrower 512 MiB RAM, workload ${mib} MiB of incompressible pages in a cgroup with MemoryMax=${memoryMaxMb}M; remote = NVMe/TCP namespace (plain, with DH-HMAC-CHAP, with dm-crypt under the swap, with both) on the lender's tmpfs over the lab's UDP socket link; local = swap file on the borrower's virtio disk (qcow2 on the host's disk, cache=unsafe)`,
    runs,
    remoteSeconds: arms.remote,
    localSeconds: local,
    medianRemote: plain,
    medianLocal: median(local),
    ratioLocalOverRemote,
    distro,
    guestPanics: panics,
    arms: Object.fromEntries(
      ARMS.map((a) => [
        a.label,
        { what: a.what, seconds: arms[a.label], median: median(arms[a.label]), overPlain: overPlain(arms[a.label]) },
      ]),
    ),
  };
  writeFileSync(join(REPO_ROOT, 'test', 'bench', 'modern-results.json'), `${JSON.stringify(result, null, 2)}\n`);
}

async function main(): Promise<void> {
  const lab = await upTestLab('bench-modern', { backend: 'modern', guestMemoryMb: [512, 1536], distro });
  let failed = false;
  try {
    const arms: Record<string, number[]> = {};
    for (const arm of ARMS) {
      await armUp(lab, arm);
      console.log(`${arm.label} arm (${arm.what}), swaps:\n${await swaps(lab)}`);
      arms[arm.label] = await timeRuns(lab, arm.label, () => armUp(lab, arm));
    }
    report(arms, values['no-local'] ? undefined : await localArm(lab));
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    await downTestLab(lab.dir, { remove: !failed });
    if (failed) console.error(`the lab's directory is kept: ${lab.dir} (each guest's console.log: kernel messages)`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
