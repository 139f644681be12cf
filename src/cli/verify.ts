import type { Command } from 'commander';
import type { Flags } from './actions/verify.ts';
import { hostOptions } from './flags.ts';

// Loaded when one of these commands runs (--help reads every command's definition).
const actions = () => import('./actions/verify.ts');

export function registerVerify(program: Command, setCode: (c: number) => void): void {
  hostOptions(program.command('verify'))
    .description(
      'check every node of the cluster, with evidence: config, tools, boot parameters, kernel, cluster Online, node-up, connections, target, remotify',
    )
    .option('--strict', 'count checks that need a RAMster kernel as failures on hosts without one', false)
    .action(async (o: Flags) => (await actions()).verifyHosts(o, setCode));

  hostOptions(program.command('status'))
    .description(
      "one table of RAMster's counters across the cluster: pages kept remotely, foreign pages held for others, remote reads, zcache (legacy) or zswap (modern) pages, connections",
    )
    .action(async (o: Flags) => (await actions()).statusHosts(o, setCode));

  hostOptions(program.command('doctor'))
    .description(
      "classify each node's RAMster kernel messages (harmless / config mismatch / unrecoverable) and say what to do",
    )
    .action(async (o: Flags) => (await actions()).doctorHosts(o, setCode));
}
