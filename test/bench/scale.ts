/**
 * `npm run bench:scale`: one controller converging many lightweight SSH hosts (test/bench/fleet/
 * light.ts: a real sshd per host, in its own mount namespace), the benchmark playbook in clusters
 * of 8, at several `--forks`: wall time, round trips, and the controller's peak memory and open
 * descriptors, for the first converge and the no-op re-run. A fresh fleet per forks value.
 *
 *   npm run bench:scale                              # 1000 hosts, forks 10 (the default), 50, 200
 *   npm run bench:scale -- --hosts 256 --forks 10,256
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { startLightFleet } from './fleet/light.ts';
import { median } from './report.ts';
import { runOurs, type ToolRun } from './tools.ts';

const log = (line: string) => process.stderr.write(`bench:scale: ${line}\n`);

export interface ScaleRow {
  hosts: number;
  forks: number | 'default';
  phase: 'first converge' | 'no-op re-run';
  seconds: number;
  roundTripsPerHost: number;
  memoryMb: number;
  fds: number;
  load: number;
}

function row(hosts: number, forks: ScaleRow['forks'], phase: ScaleRow['phase'], run: ToolRun): ScaleRow {
  return {
    hosts,
    forks,
    phase,
    seconds: run.seconds,
    roundTripsPerHost: median([...run.roundTrips!.values()]),
    memoryMb: run.peak.memoryMb,
    fds: run.peak.fds,
    load: loadavg()[0],
  };
}

/** A list of hosts, the first few named. */
const hostList = (hosts: string[], what: string) =>
  hosts.length ? [`${hosts.length} ${what} (${hosts.slice(0, 8).join(', ')}${hosts.length > 8 ? ', ...' : ''})`] : [];

function problems(run: ToolRun & { exitCode: number }, hosts: number, noop: boolean): string[] {
  const bad = [...hostList(run.failed, 'failed'), ...hostList(run.unreachable, 'unreachable')];
  if (run.changed.size !== hosts) bad.push(`${run.changed.size} of ${hosts} hosts in the result`);
  const off = [...run.changed].filter(([, n]) => (noop ? n !== 0 : n === 0));
  if (off.length) bad.push(`${off.length} hosts ${noop ? 'changed something on the re-run' : 'changed nothing'}`);
  if (run.exitCode !== 0) bad.push(`exit ${run.exitCode}`);
  // Why, counted: a thousand hosts usually fail for one or two reasons.
  const reasons = new Map<string, number>();
  for (const e of run.errors?.values() ?? []) {
    const reason = e.replace(/c\d+n\d+|127\.10\.\d+\.\d+/g, '<host>');
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  for (const [reason, n] of reasons) bad.push(`${n}× ${reason}`);
  return bad;
}

/** A fresh fleet of `hosts`, converged then re-run with `forks` (undefined: the CLI default). */
export async function measureScale(hosts: number, forks?: number): Promise<ScaleRow[]> {
  const fleet = await startLightFleet({ hosts, log });
  try {
    const rows: ScaleRow[] = [];
    for (const phase of ['first converge', 'no-op re-run'] as const) {
      const run = await runOurs(fleet, forks ?? 0, 'apply');
      const bad = problems(run, hosts, phase === 'no-op re-run');
      if (bad.length) throw new Error(`${hosts} hosts, forks ${forks ?? 'default'}, ${phase}: ${bad.join('; ')}`);
      rows.push(row(hosts, forks ?? 'default', phase, run));
      log(JSON.stringify(rows.at(-1)));
    }
    return rows;
  } finally {
    await fleet.stop();
  }
}

export function scaleTable(rows: ScaleRow[]): string {
  const head = ['hosts', 'forks', 'phase', 'wall s', 'round trips/host', 'peak memory MiB', 'peak fds', 'load'];
  const body = rows.map((r) => [
    String(r.hosts),
    String(r.forks),
    r.phase,
    r.seconds.toFixed(1),
    String(r.roundTripsPerHost),
    r.memoryMb.toFixed(0),
    String(r.fds),
    r.load.toFixed(1),
  ]);
  return [head, head.map(() => '---'), ...body].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { hosts: { type: 'string', default: '1000' }, forks: { type: 'string', default: 'default,50,200' } },
  });
  const hosts = Number(values.hosts);
  log(`${hosts} hosts, node ${process.versions.node}, ${cpus().length} cores`);
  const rows: ScaleRow[] = [];
  for (const f of values.forks!.split(','))
    rows.push(...(await measureScale(hosts, f === 'default' ? undefined : Number(f))));
  process.stdout.write(`${scaleTable(rows)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
