import { exitCode } from '../../engine/result.ts';
import { checkReferences } from '../../engine/references.ts';
import { runPlaybook, selectHosts } from '../../engine/run.ts';
import { loadInventory } from '../../inventory/load.ts';
import { loadPlaybook } from '../../playbook/load.ts';
import { plainProgress } from '../../report/progress.ts';
import { makeRedactor } from '../../redact.ts';
import { makeStyle } from '../../report/style.ts';
import { formatChanges, formatRecap } from '../../report/summary.ts';
import type { HostFlags } from '../flags.ts';

export interface RunFlags extends HostFlags {
  tags?: string[];
  skipTags?: string[];
  stepTimeout?: number;
  lockWait?: number;
  breakLock?: boolean;
  verbose: boolean;
  diff?: boolean;
}

/** Runs a playbook (plan, apply, and drain's own playbook with `vars`, see RunOptions.vars). */
export async function execute(
  playbookFile: string,
  o: RunFlags,
  apply: boolean,
  vars?: Record<string, unknown>,
): Promise<number> {
  const [inv, pb] = await Promise.all([loadInventory(o.inventory), loadPlaybook(playbookFile)]);
  const human = o.json ? process.stderr : process.stdout;
  const st = makeStyle(human, !o.color);
  const { hosts, playHosts } = selectHosts(inv, pb, o.limit);
  checkReferences(inv, pb, playHosts, vars);
  // listr2 is loaded only for a terminal: pipes and CI get plain lines.
  const progress =
    human.isTTY && !o.json
      ? (await import('../../report/ttyProgress.ts')).ttyProgress(hosts)
      : plainProgress(human, st, o.verbose);
  const redact = makeRedactor([...inv.secrets, ...pb.secrets]);
  const events = Object.fromEntries(
    Object.entries(progress.events).map(([k, fn]) => [
      k,
      (...args: unknown[]) => (fn as (...a: unknown[]) => void)(...redact(args)),
    ]),
  );

  const { abort, hard, off } = handleSignals(human);
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
      vars,
      connect: {
        knownHostsFile: o.knownHosts,
        acceptNewHostKeys: o.acceptNewHostKeys,
        connectTimeoutMs: o.connectTimeout * 1000,
      },
      events,
      secret: redact.add,
      signal: abort.signal,
      hardSignal: hard.signal,
    }).then(redact);
    await progress.finish();
    const changes = formatChanges(res, st, !apply || Boolean(o.diff));
    if (changes) human.write(`\n${changes}\n`);
    human.write(`\n${formatRecap(res, st)}\n`);
    if (o.json) process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
    return exitCode(res);
  } finally {
    off();
  }
}

/** Signals during a run: the first finishes the steps in progress and starts no new one
 *  (abort), the second stops the commands in progress (hard), the third quits at once.
 *  off() removes the handlers. */
function handleSignals(human: NodeJS.WriteStream): {
  abort: AbortController;
  hard: AbortController;
  off: () => void;
} {
  const abort = new AbortController();
  const hard = new AbortController();
  const onSignal = (sig: string) => {
    if (hard.signal.aborted) process.exit(130); // third: leave at once, locks and all
    if (abort.signal.aborted) {
      human.write(
        `\n${sig} again: stopping the commands in progress, releasing the host locks (a third one quits at once, leaving them)\n`,
      );
      hard.abort();
      return;
    }
    human.write(`\n${sig}: finishing the steps in progress, starting no new one (repeat to stop them)\n`);
    abort.abort();
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt).on('SIGTERM', onTerm);
  return { abort, hard, off: () => process.off('SIGINT', onInt).off('SIGTERM', onTerm) };
}
