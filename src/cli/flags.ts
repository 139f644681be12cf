// Flags shared by the subcommands, and the type the actions receive: its own module, so the
// actions never import main.ts (which imports them).
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ReadOptions } from '../engine/readhosts.ts';

/** What hostOptions() parses. */
export interface HostFlags {
  inventory: string;
  limit?: string;
  forks: number;
  knownHosts?: string;
  acceptNewHostKeys: boolean;
  connectTimeout: number;
  json: boolean;
  color: boolean;
}

/** Shared connection / selection options of commands that talk to hosts. */
export function hostOptions(cmd: Command): Command {
  return cmd
    .requiredOption('-i, --inventory <file>', 'inventory YAML (see playbooks/inventory.example.yaml)')
    .option('-l, --limit <pattern>', "only these hosts: names or groups, ',' separated, '!x' excludes")
    .addOption(new Option('-f, --forks <n>', 'hosts worked on in parallel').default(10).argParser(positiveInt))
    .option(
      '--known-hosts <file>',
      'known_hosts file for SSH host keys (default: inventory var known_hosts, else ~/.ssh/known_hosts)',
    )
    .option(
      '--accept-new-host-keys',
      'trust and record keys of hosts not yet in known_hosts (a CHANGED key is always refused)',
      false,
    )
    .addOption(
      new Option(
        '--connect-timeout <s>',
        "SSH connect timeout in seconds, counted from the start of the host's handshake (a few per core run at once, whatever --forks)",
      )
        .default(10)
        .argParser(positiveInt),
    )
    .option('--json', 'print one JSON document (the run result) on stdout; logs go to stderr', false)
    .option('--no-color', 'no ANSI colours (also: NO_COLOR=1)');
}

export function positiveInt(v: string): number {
  const n = Number(v);
  // InvalidArgumentError: commander prints it with the option's name (a CommanderError thrown
  // here ended the run with exit 1 and no message)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got '${v}'`);
  return n;
}

/** A read-only command's hang guard: each remote command of its probe (a slow guest's takes
 *  seconds; one that never answers fails its host instead of the whole command hanging). */
const READ_COMMAND_TIMEOUT_MS = 600_000;

/** The engine's options for a read-only command (verify, status, doctor, facts). */
export function readOptions(o: HostFlags, only?: (host: string) => boolean): ReadOptions {
  return {
    limit: o.limit,
    forks: o.forks,
    connect: {
      knownHostsFile: o.knownHosts,
      acceptNewHostKeys: o.acceptNewHostKeys,
      connectTimeoutMs: o.connectTimeout * 1000,
    },
    commandTimeoutMs: READ_COMMAND_TIMEOUT_MS,
    only,
  };
}
