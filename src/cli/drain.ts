import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_RESERVE_MB } from '../modern/model.ts';
import type { DrainFlags } from './actions/drain.ts';
import { hostOptions, positiveInt } from './flags.ts';

// Loaded when drain runs (--help reads every command's definition).
const action = () => import('./actions/drain.ts');

export const DRAIN_HELP = `
What it does, per lender named by --limit (a lender of a backend: modern cluster):
  1. on each of its borrowers, checks there is room for the pages held on that lender
     (MemAvailable + free swap elsewhere - --reserve-mb must exceed them), else refuses
     with the numbers and changes nothing on any host;
  2. brings them home: swapoff of the swap device on that lender's namespace (whatever
     sits between: md, dm-crypt), progress every 10 s; with replicas: 2 the RAID1 leg on
     that lender is failed and removed instead (the other leg holds every page);
  3. disconnects the borrower from it;
  4. then, once every borrower came home, the lender stops lending (exports removed, the
     RAM freed). It can now reboot safely.
Afterwards: reboot the lender, then \`ramster-provision apply -i <inventory>\` lends again,
the borrowers reconnect and swap on it (a mirror gets its leg back and resyncs).

Each host is locked while the drain changes it (as apply). Dry run: --check.

Examples:
  $ ramster-provision drain -i inventory.yaml --limit node2 --check   # what it would do
  $ ramster-provision drain -i inventory.yaml --limit node2
  $ ssh node2 reboot; ramster-provision apply -i inventory.yaml

Exit codes: 0 drained (--check: nothing to do), 2 --check: changes pending, 1 bad input
or a dry run that could not check a host, 3 a host failed or refused (the lender then
keeps lending), 4 unreachable, 5 both, 130 interrupted.`;

export function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError(`expected a whole number of MiB (0 or more), got '${v}'`);
  return n;
}

export function registerDrain(program: Command, setCode: (c: number) => void): void {
  hostOptions(program.command('drain'))
    .description(
      'lender maintenance (backend: modern): the borrowers of the lenders named by --limit bring their pages home and disconnect, then those lenders stop lending; they can then reboot, and apply lends again',
    )
    .option(
      '-C, --check',
      'dry run: check the room on every borrower and show what would happen; change nothing',
      false,
    )
    .addOption(
      new Option('--reserve-mb <n>', 'MiB of memory each borrower keeps free while the pages come home')
        .default(DEFAULT_RESERVE_MB)
        .argParser(nonNegativeInt),
    )
    .option(
      '--step-timeout <s>',
      'abandon any single remote command after this many seconds (a long swapoff too)',
      positiveInt,
    )
    .option('--lock-wait <s>', 'wait this long for another run holding a host (default: fail at once)', positiveInt)
    .option('--break-lock', "take over hosts' locks: only when the run holding them is known dead", false)
    .option('-v, --verbose', 'also list steps that were already in the desired state', false)
    .addHelpText('after', DRAIN_HELP)
    .action(async (o: DrainFlags) => setCode(await (await action()).drainLenders(o)));
}
