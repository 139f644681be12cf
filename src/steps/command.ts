import { hostPath, shq } from '../transport/types.ts';
import { probe, run } from '../transport/fileops.ts';
import { defineStep, noChange, type StepContext } from './types.ts';

export interface CommandArgs {
  cmd: string;
  creates?: string;
  removes?: string;
  unless?: string;
  onlyif?: string;
  timeout_s?: number;
  changed?: boolean;
  sensitive?: boolean;
}

export const commandStep = defineStep<CommandArgs>({
  name: 'command',
  description:
    'Runs a shell command (sh -c). Idempotent only through creates/removes/unless/onlyif; otherwise it runs, and reports a change, every time. A dry run never runs cmd.',
  argsSchema: {
    type: 'object',
    required: ['cmd'],
    additionalProperties: false,
    properties: {
      cmd: { type: 'string', description: 'Shell command run with sh -c on the host (for a folder target: on this machine, in the folder, with $ROOT set).' },
      creates: { type: 'string', pattern: '^/', description: 'Skip when this path exists (the command creates it).' },
      removes: { type: 'string', pattern: '^/', description: 'Skip when this path does not exist (the command removes it).' },
      unless: {
        type: 'string',
        description: 'Skip when this command exits 0. Also runs during a dry run: it must be a read-only probe (e.g. "grep -q foo /etc/bar").',
      },
      onlyif: {
        type: 'string',
        description: 'Run only when this command exits 0. Also runs during a dry run: it must be a read-only probe.',
      },
      timeout_s: { type: 'number', exclusiveMinimum: 0, description: 'Kill cmd (and its children) after this many seconds; the step then fails.' },
      changed: { type: 'boolean', description: 'false: cmd only reads or is harmless to repeat; report no change after running it (default true).' },
      sensitive: { type: 'boolean', description: 'cmd contains a secret: it is not shown in summaries or errors.' },
    },
  },
  async checkApply(args, ctx) {
    const label = args.sensitive ? 'run (sensitive command)' : `run ${oneLine(args.cmd)}`;
    const skip = await skipReason(args, ctx);
    if (skip) return noChange(`${label} skipped: ${skip}`);
    if (ctx.apply) await runCommand(args, ctx);
    return args.changed === false ? noChange(`${label} (reports no change)`) : { action: 'run', summary: label, sensitive: args.sensitive };
  },
});

/** Evaluates creates/removes/unless/onlyif in one round trip; '' means "run". */
async function skipReason(args: CommandArgs, ctx: StepContext): Promise<string> {
  const checks: string[] = [];
  if (args.creates) checks.push(`if [ -e ${shq(hostPath(ctx.t, args.creates))} ]; then echo ${shq(`${args.creates} exists`)}; exit 0; fi`);
  if (args.removes) checks.push(`if [ ! -e ${shq(hostPath(ctx.t, args.removes))} ]; then echo ${shq(`${args.removes} does not exist`)}; exit 0; fi`);
  if (args.unless) checks.push(`if sh -c ${shq(args.unless)} </dev/null >/dev/null 2>&1; then echo 'unless command exited 0'; exit 0; fi`);
  if (args.onlyif) checks.push(`if ! sh -c ${shq(args.onlyif)} </dev/null >/dev/null 2>&1; then echo 'onlyif command failed'; exit 0; fi`);
  if (!checks.length) return '';
  const script = checks.join('\n');
  // unless/onlyif are the user's commands: read-only by contract, but nothing enforces it.
  if (args.unless || args.onlyif) return (await run(ctx.t, script, 'command conditions', undefined, ctx.timeoutMs)).trim();
  return (await probe(ctx.t, script, 'command conditions', ctx.timeoutMs)).trim();
}

async function runCommand(args: CommandArgs, ctx: StepContext): Promise<void> {
  const what = args.sensitive ? 'sensitive command' : `command "${oneLine(args.cmd)}"`;
  // coreutils timeout kills the whole process group on the host, which a dropped exec
  // (or a killed local sh) would not; the transport timeout is only a backstop.
  const script = args.timeout_s ? `timeout -k 5 ${args.timeout_s} sh -c ${shq(args.cmd)}` : args.cmd;
  const timeoutMs = args.timeout_s ? args.timeout_s * 1000 + 15_000 : ctx.timeoutMs;
  const r = await ctx.t.exec(script, { stdin: '', timeoutMs });
  if (r.code === 0) return;
  if (args.timeout_s && (r.code === 124 || r.code === 137)) throw new Error(`${what} timed out after ${args.timeout_s} s and was killed (raise timeout_s if it needs longer)`);
  const tail = args.sensitive ? '' : (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-10).join('\n');
  throw new Error(`${what} failed with exit code ${r.code}${tail ? `:\n${tail}` : ' (no output)'}`);
}

function oneLine(cmd: string): string {
  const first = cmd.trim().split('\n')[0];
  const s = first.length > 100 ? `${first.slice(0, 97)}...` : first;
  return cmd.trim().includes('\n') ? `${s} ...` : s;
}
