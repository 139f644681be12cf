/**
 * `npm run bench:startup`: how long `ramster-provision --help` takes to start, the built CLI
 * (bin/ over dist/, plain JS; the script builds it first) beside the tsx start-up it replaced
 * (the same CLI from src/ through tsx, as the tests still run it). Runs alternate between the
 * two so a change of load hits both alike; each is timed by bash's `time` (wall, user, sys of
 * the node process alone).
 *
 *   npm run bench:startup                    # median of 21 runs each
 *   npm run bench:startup -- --runs 51
 *
 * Target: the built CLI's --help under 150 ms median on an idle machine.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { CLI as SOURCE_CLI } from '../helpers/cli.ts';
import { REPO } from './tools.ts';

const TARGET_MS = 150;
/** What each candidate runs after `node`; `node` alone (no script) is the floor under both. */
const CANDIDATES = {
  built: [join(REPO, 'bin/ramster-provision.js'), '--help'],
  tsx: [SOURCE_CLI, '--help'],
  node: ['-e', '0'],
} as const;
type Candidate = keyof typeof CANDIDATES;
const NAMES = Object.keys(CANDIDATES) as Candidate[];

interface Timing {
  wallMs: number;
  cpuMs: number;
}

/** One `node ...args`, timed by bash's `time`; fails when the command does. */
function timeNode(args: readonly string[]): Timing {
  const out = execFileSync(
    'bash',
    ['-c', 'TIMEFORMAT="%3R %3U %3S"; { time "$@" >/dev/null; } 2>&1', 'bash', process.execPath, ...args],
    {
      cwd: REPO,
      encoding: 'utf8',
    },
  );
  const [real, user, sys] = out.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wallMs: real * 1000, cpuMs: (user + sys) * 1000 };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function measure(runs: number): Record<Candidate, Timing[]> {
  const timings: Record<Candidate, Timing[]> = { built: [], tsx: [], node: [] };
  for (const name of NAMES) timeNode(CANDIDATES[name]); // warm the page cache
  for (let i = 0; i < runs; i++) for (const name of NAMES) timings[name].push(timeNode(CANDIDATES[name]));
  return timings;
}

function report(timings: Record<Candidate, Timing[]>, loadBefore: number[]): void {
  const ms = (n: number) => `${Math.round(n)} ms`;
  const fmtLoad = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  console.log(
    `ramster-provision --help start-up, median of ${timings.built.length} runs of each (node ${process.versions.node}, ${cpus().length} cores)`,
  );
  console.log(`load average before: ${fmtLoad(loadBefore)}, after: ${fmtLoad(loadavg())}`);
  for (const name of NAMES) {
    const t = timings[name];
    const shown = CANDIDATES[name].map((a) => (isAbsolute(a) ? relative(REPO, a) : a)).join(' ');
    console.log(
      `  ${name.padEnd(5)} wall ${ms(median(t.map((x) => x.wallMs))).padStart(7)} (min ${ms(Math.min(...t.map((x) => x.wallMs)))}), cpu ${ms(median(t.map((x) => x.cpuMs)))}   node ${shown}`,
    );
  }
  const built = median(timings.built.map((x) => x.wallMs));
  const tsx = median(timings.tsx.map((x) => x.wallMs));
  console.log(
    `  tsx / built: ${(tsx / built).toFixed(1)}x wall, ${(median(timings.tsx.map((x) => x.cpuMs)) / median(timings.built.map((x) => x.cpuMs))).toFixed(1)}x cpu`,
  );
  console.log(
    `  target: built under ${TARGET_MS} ms on an idle machine: ${built < TARGET_MS ? 'met' : `not met here (${ms(built)}; at load ${loadBefore[0].toFixed(1)} on ${cpus().length} cores)`}`,
  );
}

const { values } = parseArgs({ options: { runs: { type: 'string', default: '21' } } });
const loadBefore = loadavg();
report(measure(Number(values.runs)), loadBefore);
