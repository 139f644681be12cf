import { readFileSync, writeFileSync } from 'node:fs';
import type { Breakdown } from './tools.ts';

export interface PhaseResult {
  /** Wall seconds per run, in run order. */
  ours: number[];
  ansible: number[];
  /** ramster-provision's own engine time (without process start-up), per run. */
  oursEngine: number[];
  /** Remote commands per host of ramster-provision (the same on every host and run). */
  roundTripsPerHost: number;
  /** Peak memory (MiB) and descriptors of each tool's process tree, per run (absent in results
   *  from before they were measured). */
  oursMemoryMb?: number[];
  oursFds?: number[];
  ansibleMemoryMb?: number[];
}

export interface SizeResult {
  hosts: number;
  runs: number;
  forks: number;
  /** `ramster-provision plan` and `ansible-playbook --check --diff` on reset hosts. */
  plan?: PhaseResult;
  converge: PhaseResult;
  noop: PhaseResult;
  /** 1-minute load average sampled before every timed command. */
  load: number[];
  breakdown?: Breakdown;
}

export interface BenchResults {
  command: string;
  date: string;
  machine: { cpus: number; model: string };
  versions: { node: string; ansible: string };
  sizes: SizeResult[];
  /** Wall seconds per run of `--help` and `validate playbooks/inventory.example.yaml`. */
  startup?: { help: number[]; validate: number[] };
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const f = (x: number, d = 2) => x.toFixed(d);

const PHASE_NAMES = { plan: 'plan (Ansible: --check)', converge: 'first converge', noop: 'no-op re-run' } as const;
const mib = (xs?: number[]) => (xs?.length ? f(median(xs), 0) : '-');

export function tableRows(r: BenchResults): string[][] {
  const rows: string[][] = [];
  for (const s of r.sizes) {
    for (const phase of ['plan', 'converge', 'noop'] as const) {
      const p = s[phase];
      if (!p) continue;
      const ours = median(p.ours);
      const ansible = p.ansible.length ? median(p.ansible) : Number.NaN;
      rows.push([
        String(s.hosts),
        PHASE_NAMES[phase],
        f(ours),
        f(median(p.oursEngine)),
        p.ansible.length ? f(ansible) : 'not run',
        p.ansible.length ? `${f(ansible / ours, 1)}×` : '-',
        String(p.roundTripsPerHost),
        mib(p.oursMemoryMb),
        mib(p.ansibleMemoryMb),
      ]);
    }
  }
  return rows;
}

export const HEADER = [
  'hosts',
  'phase',
  'ours median s',
  'ours engine s',
  'Ansible median s',
  'Ansible/ours',
  'our round trips/host',
  'ours peak memory MiB',
  'Ansible peak memory MiB',
];

export function textTable(r: BenchResults): string {
  const rows = [HEADER, ...tableRows(r)];
  const widths = HEADER.map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

function loadSummary(r: BenchResults): string {
  const all = r.sizes.flatMap((s) => s.load);
  return `${f(median(all), 1)} median, ${f(Math.min(...all), 1)} to ${f(Math.max(...all), 1)}`;
}

/** ramster-provision before/after lines for `before` (an earlier results file) against `r`. */
function beforeAfter(before: BenchResults, r: BenchResults): string {
  const rows = [
    [
      'hosts',
      'phase',
      'ours before s',
      'round trips before',
      'Ansible/ours before',
      'ours now s',
      'round trips now',
      'Ansible/ours now',
    ],
  ];
  const ratio = (x: SizeResult, phase: 'converge' | 'noop') =>
    `${f(median(x[phase].ansible) / median(x[phase].ours), 1)}×`;
  for (const s of r.sizes) {
    const b = before.sizes.find((x) => x.hosts === s.hosts);
    if (!b) continue;
    for (const phase of ['converge', 'noop'] as const) {
      rows.push([
        String(s.hosts),
        phase === 'noop' ? 'no-op re-run' : 'first converge',
        f(median(b[phase].ours)),
        String(b[phase].roundTripsPerHost),
        ratio(b, phase),
        f(median(s[phase].ours)),
        String(s[phase].roundTripsPerHost),
        ratio(s, phase),
      ]);
    }
  }
  return [rows[0], rows[0].map(() => '---'), ...rows.slice(1)].map((row) => `| ${row.join(' | ')} |`).join('\n');
}

/** The README's "## Speed" section, regenerated from the results (and, when given, the
 *  figures before the file-state snapshot, test/bench/results-before-snapshot.json). */
export function readmeSection(r: BenchResults, before?: BenchResults): string {
  const md = [HEADER, HEADER.map(() => '---'), ...tableRows(r)].map((row) => `| ${row.join(' | ')} |`).join('\n');
  const runs = r.sizes.map((s) => `${s.runs} runs at ${s.hosts} hosts`).join(', ');
  const forks = [...new Set(r.sizes.map((s) => s.forks))].join(' and ');
  const startup = r.sizes.flatMap((s) => [s.converge, s.noop].map((p) => median(p.ours) - median(p.oursEngine)));
  const small = r.sizes[0];
  const big = r.sizes[r.sizes.length - 1];
  const b = big.breakdown;
  const bigA = [...r.sizes].reverse().find((s) => s.noop.ansible.length) ?? big;
  const ms = (x: number) => `${Math.round(x * 1000)} ms`;
  const tasks = 10; // tasks of test/bench/ansible/site.yml
  return `## Speed

Measured by

    ${r.command}

on ${r.date.slice(0, 10)}: ${r.machine.cpus} × ${r.machine.model}, Node ${r.versions.node}, Ansible ${r.versions.ansible}.
1-minute load average while measuring: ${loadSummary(r)} (QEMU guests and kernel builds of other
work shared the machine, and Ansible's own workers add to it), so absolute times wander; the
ratios compare both tools in the same run, on the same hosts, under the same load.

${md}

- Hosts: Debian 12 containers (testcontainers; image built here with mmdebstrap and imported
  into a local dockerd, no registry), one sshd each with its own host key, checked against a
  known_hosts file by both tools; clusters of 8 nodes.
- The same configuration both ways: [\`test/bench/ours.yaml\`](test/bench/ours.yaml) (ramster-tools
  files, \`/etc/ramster.conf\`, service settings, the rc.local heartbeat block, the shutdown unit,
  the debugfs fstab line) and [\`test/bench/ansible/site.yml\`](test/bench/ansible/site.yml)
  (copy, file, template, blockinfile, mount; ${tasks} tasks). After Ansible's converge,
  \`ramster-provision plan\` finds nothing to change: same bytes, modes and owners.
- Each run: hosts reset, then the plan (Ansible: \`--check --diff\`, its dry run), the first
  converge and the no-op re-run; the tools alternate which goes first. Medians over ${runs}.
- Times are wall clock of the whole command; \`ours engine s\` is ramster-provision's own
  \`durationMs\` (the rest is starting Node). Forks ${forks} for both (every host at once, at most 64).
- Peak memory: the most memory the command's whole process tree held at once (ramster-provision
  is one Node process; Ansible is its main process, its forked workers and the ssh
  ControlMasters), sampled every 200 ms from /proc as proportional set size: resident pages,
  a page shared by n processes counted 1/n, so forked workers' shared pages count once.
- Ansible gets its fastest fair setup ([\`ansible.cfg\`](test/bench/ansible/ansible.cfg)): no fact
  gathering, interpreter set, pipelining, ControlMaster (one SSH connection per host for all
  tasks, opened fresh each run, as ramster-provision's are).
- Round trips: remote commands per host, from \`--json\` \`roundTrips\`. A plan and a no-op apply
  are 1: facts, pending handlers, the lock's record and the state of every file the steps will
  read, in one command without the lock (steps declare their files with \`reads\`). A converge
  adds the lock (with the proof that nothing moved since the read) and its writes: consecutive
  writes that need no answer in between (files, blocks, lines, modes) go as one batch, each
  still atomic and reported at its own step, and the unlock rides on the last batch, so a first
  converge of this playbook is 3. A step's read-only check (a service's state, a mount, a
  command's \`creates\`) is a round trip of its own and needs no lock.
${
  before
    ? `
Before that snapshot each step read its file in a command of its own (the same bench on the
tree before the change, ${before.date.slice(0, 10)}; load ${loadSummary(before)}):

${beforeAfter(before, r)}
`
    : ''
}
Where the time still goes: starting the CLI (Node, then only the modules of the command
that runs) is ${f(Math.min(...startup), 1)}–${f(Math.max(...startup), 1)} s of each run, most of a no-op at ${small.hosts} hosts.${
    r.startup
      ? `
Alone, \`--help\` takes ${f(median(r.startup.help))} s and \`validate\` of the example inventory ${f(median(r.startup.validate))} s
(medians of ${r.startup.help.length}, \`node bin/ramster-provision.js\`; \`npx\` adds its own start-up).`
      : ''
  }${
    b
      ? `
In the engine's ${f(b.engineS)} s no-op at ${big.hosts} hosts, connecting takes ${ms(b.connectS)} per host (median;
${big.forks} at a time, mostly sshd starting a process per connection in each container — the
controller's share is a few ms) and each of the ${f(b.commandsPerHost, 0)} remote commands ${ms(b.commandS)}.`
      : ''
  }
Ansible's time is per task and host (a forked worker, a Python module sent and started on the
host, checksums compared): its ${bigA.hosts}-host no-op is ${bigA.hosts * tasks} task runs in ${f(median(bigA.noop.ansible), 0)} s, ${f(median(bigA.noop.ansible) / (bigA.hosts * tasks), 2)} s each on ${r.machine.cpus} cores.
`;
}

/** Replaces (or adds, before "## Architecture") the generated part of the README's "## Speed"
 *  section: everything up to its first "###" subsection. */
export function updateReadme(file: string, section: string): void {
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf('\n## Speed\n');
  let next: string;
  if (start >= 0) {
    // The generated part ends at the section's first subsection: those are written by hand
    // (other benchmarks' figures) and stay.
    const ends = ['\n## ', '\n### '].map((h) => text.indexOf(h, start + 1)).filter((i) => i >= 0);
    const end = ends.length ? Math.min(...ends) : -1;
    next = text.slice(0, start + 1) + section + (end >= 0 ? text.slice(end) : '');
  } else {
    const at = text.indexOf('\n## Architecture\n');
    next = at >= 0 ? `${text.slice(0, at + 1)}${section}\n${text.slice(at + 1)}` : `${text.trimEnd()}\n\n${section}`;
  }
  writeFileSync(file, next);
}
