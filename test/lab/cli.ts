/** The real `ramster-provision` CLI as the lab suites run it: a child process, JSON parsed. */
import { execa, type ResultPromise } from 'execa';
import type { HostResult, RunResult, StepResult } from '../../src/engine/result.ts';
import { REPO_ROOT } from '../../src/guestimage/paths.ts';
import { CLI } from '../helpers/cli.ts';
import { labLimit } from '../helpers/machine.ts';

export { CLI };

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface JsonRun extends CliRun {
  result: RunResult;
}

const env = { NO_COLOR: '1', FORCE_COLOR: '0' };

/** Starts the CLI without waiting (for runs a test disturbs while they go on). */
export function startCli(
  args: string[],
  timeoutMs = labLimit(1_200_000),
): ResultPromise<{ reject: false; cwd: string; env: typeof env; timeout: number }> {
  return execa('node', [CLI, ...args], { reject: false, cwd: REPO_ROOT, env, timeout: timeoutMs });
}

export async function cli(args: string[], timeoutMs?: number): Promise<CliRun> {
  const start = Date.now();
  const r = await startCli(args, timeoutMs);
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), ms: Date.now() - start };
}

/** Runs plan/apply with `--json` and parses the one JSON document it prints on stdout. */
export async function cliJson(args: string[], timeoutMs?: number): Promise<JsonRun> {
  const r = await cli([...args, '--json'], timeoutMs);
  return { ...r, result: parseRun(r) };
}

export function parseRun(r: CliRun): RunResult {
  try {
    return JSON.parse(r.stdout) as RunResult;
  } catch {
    throw new Error(
      `ramster-provision ${r.code}: stdout is not one JSON document\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`,
    );
  }
}

export function hostOf(res: RunResult, host: string): HostResult {
  const h = res.hosts.find((x) => x.host === host);
  if (!h) throw new Error(`no host ${host} in the run result (hosts: ${res.hosts.map((x) => x.host).join(', ')})`);
  return h;
}

export const changedSteps = (h: HostResult): StepResult[] => h.steps.filter((s) => s.status === 'changed');

/** A short account of a run for assertion messages: each host's status, error, and every
 *  step that changed or failed. */
export function explain(r: CliRun & { result?: RunResult }): string {
  const res = r.result;
  if (!res) return `exit ${r.code}\n${r.stderr.slice(-4000)}`;
  const lines = [`exit ${r.code}, ${res.mode}, totals ${JSON.stringify(res.totals)}`];
  for (const h of res.hosts) {
    lines.push(`${h.host}: ${h.status}${h.error ? ` (${h.error})` : ''}`);
    for (const s of h.steps) {
      if (s.status === 'changed' || s.status === 'failed')
        lines.push(`  ${s.status} ${s.step}: ${s.message ?? s.change?.summary ?? ''}`);
    }
  }
  return lines.join('\n');
}
