/**
 * `npm run bench`: ramster-provision against Ansible on a fleet of real SSH hosts (Debian
 * containers): plan (Ansible: --check), first converge and no-op re-run, at 8, 64 and 256 hosts,
 * with each tool's wall time and peak controller memory.
 *
 *   npm run bench                               # 8 hosts × 3 runs, 64 and 256 hosts × 1 run
 *   npm run bench -- --hosts 8 --runs 3         # quicker
 *   npm run bench -- --no-readme                # do not touch README.md
 *   npm run bench -- --ansible-up-to 64         # Ansible only at 64 hosts and fewer (it takes
 *                                               # ~15 min per phase at 256 on 2 cores)
 *
 * Writes test/bench/results.json and the README's "## Speed" section.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FleetError } from './fleet/docker.ts';
import { startFleet, type Fleet } from './fleet/fleet.ts';
import {
  median,
  readmeSection,
  textTable,
  updateReadme,
  type BenchResults,
  type PhaseResult,
  type SizeResult,
} from './report.ts';
import {
  breakdown,
  cliStartup,
  ensureAnsible,
  MANAGED_PATHS,
  REPO,
  runAnsible,
  runOurs,
  ToolError,
  type ToolRun,
} from './tools.ts';

const RESULTS_FILE = join(REPO, 'test/bench/results.json');
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
const ints = (s: string) => s.split(',').map((x) => Number.parseInt(x, 10));

type Phase = 'plan' | 'converge' | 'noop';
const PHASES: Phase[] = ['plan', 'converge', 'noop'];

/** Every host reported; a plan or converge of a reset host changes something, a no-op nothing. */
function check(tool: string, phase: Phase, run: ToolRun, fleet: Fleet): void {
  const bad = [...run.failed.map((h) => `${h} failed`), ...run.unreachable.map((h) => `${h} unreachable`)];
  for (const h of fleet.hosts) {
    const changed = run.changed.get(h.name);
    if (changed === undefined) bad.push(`${h.name} missing from the recap`);
    else if (phase !== 'noop' && changed === 0) bad.push(`${h.name} changed nothing on a reset host`);
    else if (phase === 'noop' && changed > 0) bad.push(`${h.name} changed ${changed} on the re-run`);
  }
  if (bad.length)
    throw new ToolError(
      `${tool} ${phase}: ${bad.slice(0, 5).join('; ')}${bad.length > 5 ? ` (+${bad.length - 5} more)` : ''}`,
    );
}

function roundTrips(run: ToolRun): number {
  return median([...run.roundTrips!.values()]);
}

/** The fleet in use, for ^C: its containers (and a dockerd the bench started) are removed. */
let active: Fleet | undefined;
process.once('SIGINT', () => {
  log('interrupted: removing the fleet');
  void (active?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
});

async function timeTool(tool: 'ours' | 'ansible', phase: Phase, fleet: Fleet, forks: number): Promise<ToolRun> {
  if (tool === 'ours') return runOurs(fleet, forks, phase === 'plan' ? 'plan' : 'apply');
  return runAnsible(fleet, forks, phase === 'plan' ? 'check' : 'apply');
}

function record(p: PhaseResult, tool: 'ours' | 'ansible', run: ToolRun): void {
  if (tool === 'ours') {
    p.ours.push(run.seconds);
    p.oursEngine.push(run.engineSeconds!);
    p.roundTripsPerHost = roundTrips(run);
    p.oursMemoryMb!.push(run.peak.memoryMb);
    p.oursFds!.push(run.peak.fds);
  } else {
    p.ansible.push(run.seconds);
    p.ansibleMemoryMb!.push(run.peak.memoryMb);
  }
}

/** Same configuration both ways: after Ansible's converge, ramster-provision has nothing to do. */
async function sameConfiguration(fleet: Fleet, forks: number, hosts: number): Promise<void> {
  const plan = await runOurs(fleet, forks, 'plan');
  const differ = [...plan.changed].filter(([, n]) => n > 0).map(([h]) => h);
  if (plan.exitCode !== 0 || differ.length) {
    throw new ToolError(
      `after Ansible's converge ramster-provision plan wants changes on ${differ.join(', ') || `(exit ${plan.exitCode})`}: the two playbooks do not configure the same thing`,
    );
  }
  log(`${hosts} hosts: after Ansible's converge ramster-provision plan finds nothing to change (same files)`);
}

async function measureSize(hosts: number, runs: number, forks: number, withAnsible: boolean): Promise<SizeResult> {
  const fleet = await startFleet({ hosts, log });
  active = fleet;
  const emptyPhase = (): PhaseResult => ({
    ours: [],
    ansible: [],
    oursEngine: [],
    roundTripsPerHost: 0,
    oursMemoryMb: [],
    oursFds: [],
    ansibleMemoryMb: [],
  });
  const res: SizeResult = {
    hosts,
    runs,
    forks,
    plan: emptyPhase(),
    converge: emptyPhase(),
    noop: emptyPhase(),
    load: [],
  };
  try {
    for (let i = 0; i < runs; i++) {
      // Alternate which tool goes first, so a drifting background load hits both alike.
      const both = i % 2 === 0 ? (['ours', 'ansible'] as const) : (['ansible', 'ours'] as const);
      for (const tool of both.filter((t) => withAnsible || t === 'ours')) {
        await fleet.reset(MANAGED_PATHS);
        for (const phase of PHASES) {
          res.load.push(loadavg()[0]);
          const run = await timeTool(tool, phase, fleet, forks);
          check(tool === 'ours' ? 'ramster-provision' : 'Ansible', phase, run, fleet);
          record(res[phase]!, tool, run);
          log(
            `${hosts} hosts, run ${i + 1}/${runs}, ${tool === 'ours' ? 'ramster-provision' : 'Ansible'} ${phase}: ${run.seconds.toFixed(2)} s, peak memory ${run.peak.memoryMb.toFixed(0)} MiB (load ${loadavg()[0].toFixed(1)})`,
          );
        }
        if (tool === 'ansible' && i === 0) await sameConfiguration(fleet, forks, hosts);
      }
    }
    // The hosts are converged now: one in-process no-op with the transport timed.
    res.breakdown = await breakdown(fleet, forks);
    log(`${hosts} hosts, where a no-op's time goes: ${JSON.stringify(res.breakdown)}`);
  } finally {
    active = undefined;
    await fleet.stop();
  }
  return res;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      hosts: { type: 'string', default: '8,64,256' },
      runs: { type: 'string', default: '3,1,1' },
      forks: { type: 'string' },
      'no-readme': { type: 'boolean', default: false },
      'ansible-up-to': { type: 'string', default: '256' },
    },
  });
  const sizes = ints(values.hosts!);
  const runsList = ints(values.runs!);
  const ansible = await ensureAnsible(log);
  const results: BenchResults = {
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model.trim() ?? 'unknown' },
    versions: { node: process.versions.node, ansible },
    sizes: [],
  };
  results.startup = await cliStartup(5);
  log(
    `CLI start-up: --help ${median(results.startup.help).toFixed(2)} s, validate ${median(results.startup.validate).toFixed(2)} s (medians of 5)`,
  );
  for (const [i, hosts] of sizes.entries()) {
    const runs = runsList[Math.min(i, runsList.length - 1)];
    // Every host at once for both tools, up to 64 (256 forked Ansible workers would need more
    // memory than the bench's machine has to spare); ramster-provision raises forks to a
    // cluster's size anyway.
    const forks = values.forks ? Number(values.forks) : Math.min(hosts, 64);
    log(`${hosts} hosts, ${runs} runs, forks ${forks}`);
    results.sizes.push(await measureSize(hosts, runs, forks, hosts <= Number(values['ansible-up-to'])));
    // After every size, so a later size that fails loses none of the earlier ones.
    writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
    log(`wrote ${RESULTS_FILE} (${results.sizes.map((s) => s.hosts).join(', ')} hosts)`);
  }
  const table = textTable(results);
  process.stdout.write(`\n${table}\n`);
  if (!values['no-readme']) {
    const beforeFile = join(REPO, 'test/bench/results-before-snapshot.json');
    const before = existsSync(beforeFile) ? (JSON.parse(readFileSync(beforeFile, 'utf8')) as BenchResults) : undefined;
    updateReadme(join(REPO, 'README.md'), readmeSection(results, before));
    log('updated the "## Speed" section of README.md');
  }
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e) => {
    if (e instanceof FleetError || e instanceof ToolError) process.stderr.write(`bench: ${e.message}\n`);
    else process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
