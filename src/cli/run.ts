import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { hostOptions, positiveInt } from './flags.ts';

export const DEFAULT_PLAYBOOK = fileURLToPath(new URL('../../playbooks/site.yaml', import.meta.url));

// Loaded when plan or apply runs, so --help and the other commands do not load the engine.
const execute: typeof import('./actions/run.ts').execute = async (...a) =>
  (await import('./actions/run.ts')).execute(...a);

const list = (v: string, prev: string[] = []) => [
  ...prev,
  ...v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

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
    .description(
      'dry run: read every host, print each change the apply would make with its diff (exit 0 none, 2 pending, 1 error)',
    )
    .action(async (playbook: string, o) => setCode(await execute(playbook, o, false)));

  common(program.command('apply'))
    .description('converge every host to the playbook; recap per host (exit codes: see --help of the program)')
    .option('-C, --check', 'dry run: change nothing (same as plan)', false)
    .option('-D, --diff', 'print the diff of every change made', false)
    .action(async (playbook: string, o) => setCode(await execute(playbook, o, !o.check)));
}
