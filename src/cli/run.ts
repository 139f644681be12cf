import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { exitCode } from '../engine/result.ts';
import { checkReferences } from '../engine/references.ts';
import { runPlaybook, selectHosts } from '../engine/run.ts';
import { loadInventory } from '../inventory/load.ts';
import { loadPlaybook } from '../playbook/load.ts';
import { plainProgress, ttyProgress } from '../report/progress.ts';
import { makeRedactor } from '../report/redact.ts';
import { makeStyle } from '../report/style.ts';
import { formatChanges, formatRecap } from '../report/summary.ts';
import { hostOptions, positiveInt, type HostFlags } from './main.ts';

export const DEFAULT_PLAYBOOK = fileURLToPath(new URL('../../playbooks/site.yaml', import.meta.url));

const list = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

export function registerRunCommands(program: Command, setCode: (c: number) => void): void {
  const common = (cmd: Command) =>
    hostOptions(cmd)
      .argument('[playbook]', 'playbook YAML', DEFAULT_PLAYBOOK)
      .option('-t, --tags <tags>', 'only steps with one of these tags (comma separated; repeatable)', list)
      .option('--skip-tags <tags>', 'skip steps with one of these tags', list)
      .option('--step-timeout <s>', 'abandon any single remote command after this many seconds', positiveInt)
    .option('--lock-wait <s>', 'wait this long for another apply holding a host (default: fail at once)', positiveInt)
    .option('--break-lock', "take over hosts' locks: only when the run holding them is known dead", false)
      .option('-v, --verbose', 'also list steps that were already in the desired state', false);

  common(program.command('plan'))
    .description('dry run: read every host, print each change the apply would make with its diff (exit 0 none, 2 pending, 1 error)')
    .action(async (playbook: string, o) => setCode(await execute(playbook, o, false)));

  common(program.command('apply'))
    .description('converge every host to the playbook; recap per host (exit codes: see --help of the program)')
    .option('-C, --check', 'dry run: change nothing (same as plan)', false)
    .option('-D, --diff', 'print the diff of every change made', false)
    .action(async (playbook: string, o) => setCode(await execute(playbook, o, !o.check)));
}

interface RunFlags extends HostFlags {
  tags?: string[];
  skipTags?: string[];
  stepTimeout?: number;
  lockWait?: number;
  breakLock?: boolean;
  verbose: boolean;
  diff?: boolean;
}

async function execute(playbookFile: string, o: RunFlags, apply: boolean): Promise<number> {
  const [inv, pb] = await Promise.all([loadInventory(o.inventory), loadPlaybook(playbookFile)]);
  const human = o.json ? process.stderr : process.stdout;
  const st = makeStyle(human, !o.color);
  const { hosts, playHosts } = selectHosts(inv, pb, o.limit);
  checkReferences(inv, pb, playHosts);
  const progress = human.isTTY && !o.json ? ttyProgress(hosts) : plainProgress(human, st, o.verbose);
  const redact = makeRedactor([...inv.secrets, ...pb.secrets]);
  const events = Object.fromEntries(Object.entries(progress.events).map(([k, fn]) => [k, (...args: unknown[]) => (fn as (...a: unknown[]) => void)(...redact(args))]));

  const abort = new AbortController();
  const onSignal = (sig: string) => {
    if (abort.signal.aborted) process.exit(130);
    human.write(`\n${sig}: finishing the steps in progress, starting no new one (repeat to quit at once)\n`);
    abort.abort();
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt).on('SIGTERM', onTerm);
  try {
    const res = await runPlaybook(inv, pb, {
      apply,
      forks: o.forks,
      limit: o.limit,
      tags: o.tags,
      skipTags: o.skipTags,
      stepTimeoutMs: o.stepTimeout ? o.stepTimeout * 1000 : undefined,
      lockWaitMs: o.lockWait ? o.lockWait * 1000 : undefined,
      breakLock: o.breakLock,
      connect: { knownHostsFile: o.knownHosts, acceptNewHostKeys: o.acceptNewHostKeys, connectTimeoutMs: o.connectTimeout * 1000 },
      events,
      signal: abort.signal,
    }).then(redact);
    await progress.finish();
    const changes = formatChanges(res, st, !apply || Boolean(o.diff));
    if (changes) human.write(`\n${changes}\n`);
    human.write(`\n${formatRecap(res, st)}\n`);
    if (o.json) process.stdout.write(JSON.stringify(res, null, 2) + '\n');
    return exitCode(res);
  } finally {
    process.off('SIGINT', onInt).off('SIGTERM', onTerm);
  }
}
