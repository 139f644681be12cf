import type { Command } from 'commander';
import { hostOptions } from './flags.ts';

// Loaded when the command runs (--help reads every command's definition).
const printFacts: typeof import('./actions/facts.ts').printFacts = async (...a) =>
  (await import('./actions/facts.ts')).printFacts(...a);

export function registerFacts(program: Command, setCode: (c: number) => void): void {
  hostOptions(program.command('facts'))
    .description("gather and print each host's facts (one remote command per host); JSON with --json")
    .action((o) => printFacts(o, setCode));
}
