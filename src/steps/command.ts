import { cut } from '../redact.ts';
import { hostPath } from '../transport/types.ts';
import { probe, run } from '../transport/fileops.ts';
import { defineStep, noChange, type StepContext } from './types.ts';
import { commandFailed, shq } from '../shell.ts';

/** Shell text, or argv: a list of words, each quoted by the step (safe for any value). */
type ShellCommand = string | string[];

export type CommandArgs = {
  cmd: ShellCommand;
  creates?: string;
  removes?: string;
  unless?: ShellCommand;
  onlyif?: ShellCommand;
  timeout_s?: number;
  changed?: boolean;
  sensitive?: boolean;
};

const shellCommandSchema = {
  oneOf: [{ type: 'string' }, { type: 'array', minItems: 1, items: { type: 'string' } }],
} as const;

/** The command as shell text: argv words each quoted. */
const shellText = (c: ShellCommand): string => (Array.isArray(c) ? c.map(shq).join(' ') : c);

export const commandStep = defineStep<CommandArgs>()({
  name: 'command',
  shellArgs: ['cmd', 'unless', 'onlyif'],
  description:
    'Runs a shell command (sh -c). Idempotent only through creates/removes/unless/onlyif; otherwise it runs, and reports a change, every time. A dry run never runs cmd.',
  argsSchema: {
    type: 'object',
    required: ['cmd'],
    additionalProperties: false,
    properties: {
      cmd: {
        ...shellCommandSchema,
        description:
          'Shell command run with sh -c on the host (for a folder target: on this machine, in the folder, with $ROOT set); a {{ value }} in it must be a plain word or written {{ value | quote }}. Or a list of words (argv), each quoted by the step.',
      },
      creates: { type: 'string', pattern: '^/', description: 'Skip when this path exists (the command creates it).' },
      removes: {
        type: 'string',
        pattern: '^/',
        description: 'Skip when this path does not exist (the command removes it).',
      },
      unless: {
        ...shellCommandSchema,
        description:
          'Skip when this command exits 0 (shell text or a list of words, as cmd). Also runs during a dry run: it must be a read-only probe (e.g. "grep -q foo /etc/bar").',
      },
      onlyif: {
        ...shellCommandSchema,
        description:
          'Run only when this command exits 0 (shell text or a list of words, as cmd). Also runs during a dry run: it must be a read-only probe.',
      },
      timeout_s: {
        type: 'number',
        exclusiveMinimum: 0,
        description: 'Kill cmd (and its children) after this many seconds; the step then fails.',
      },
      changed: {
        type: 'boolean',
        description:
          'false: cmd only reads or is harmless to repeat; report no change after running it (default true).',
      },
      sensitive: { type: 'boolean', description: 'cmd contains a secret: it is not shown in summaries or errors.' },
    },
  },
  async checkApply(args, ctx) {
    const label = args.sensitive ? 'run (sensitive command)' : `run ${oneLine(shellText(args.cmd))}`;
    const skip = await skipReason(args, ctx);
    if (skip) return noChange(`${label} skipped: ${skip}`);
    if (ctx.apply) await runCommand(args, ctx);
    return args.changed === false
      ? noChange(`${label} (reports no change)`)
      : { action: 'run', summary: label, sensitive: args.sensitive };
  },
});

/** Evaluates creates/removes/unless/onlyif in one round trip; '' means "run". */
async function skipReason(args: CommandArgs, ctx: StepContext): Promise<string> {
  const checks: string[] = [];
  if (args.creates)
    checks.push(
      `if [ -e ${shq(hostPath(ctx.t, args.creates))} ]; then echo ${shq(`${args.creates} exists`)}; exit 0; fi`,
    );
  if (args.removes)
    checks.push(
      `if [ ! -e ${shq(hostPath(ctx.t, args.removes))} ]; then echo ${shq(`${args.removes} does not exist`)}; exit 0; fi`,
    );
  if (args.unless)
    checks.push(
      `if sh -c ${shq(shellText(args.unless))} </dev/null >/dev/null 2>&1; then echo 'unless command exited 0'; exit 0; fi`,
    );
  if (args.onlyif)
    checks.push(
      `if ! sh -c ${shq(shellText(args.onlyif))} </dev/null >/dev/null 2>&1; then echo 'onlyif command failed'; exit 0; fi`,
    );
  if (!checks.length) return '';
  const script = checks.join('\n');
  // unless/onlyif are the user's commands: read-only by contract, but nothing enforces it.
  if (args.unless || args.onlyif)
    return (await run(ctx.t, script, 'command conditions', undefined, ctx.timeoutMs)).trim();
  return (await probe(ctx.t, script, 'command conditions', ctx.timeoutMs)).trim();
}

async function runCommand(args: CommandArgs, ctx: StepContext): Promise<void> {
  const cmd = shellText(args.cmd);
  const what = args.sensitive ? 'sensitive command' : `command "${oneLine(cmd)}"`;
  // coreutils timeout kills the whole process group on the host, which a dropped exec
  // (or a killed local sh) would not; the transport timeout is only a backstop.
  const script = args.timeout_s ? `timeout -k 5 ${args.timeout_s} sh -c ${shq(cmd)}` : cmd;
  const timeoutMs = args.timeout_s ? args.timeout_s * 1000 + 15_000 : ctx.timeoutMs;
  const r = await ctx.t.exec(script, { stdin: '', timeoutMs });
  if (r.code === 0) return;
  if (args.timeout_s && (r.code === 124 || r.code === 137))
    throw new Error(`${what} timed out after ${args.timeout_s} s and was killed (raise timeout_s if it needs longer)`);
  throw new Error(commandFailed(what, r, { sensitive: args.sensitive }));
}

/** The first line, at most 100 characters (cut() marks the cut, where the redactor hides a
 *  secret's beginning). */
function oneLine(cmd: string): string {
  const first = cmd.trim().split('\n')[0];
  const s = cut(first, 100);
  return cmd.trim().includes('\n') ? `${s} …` : s;
}
