import { Command, CommanderError } from 'commander';
import { InputError, formatDiagnostic } from '../input/diagnostics.ts';
import { EXIT } from '../engine/result.ts';
import { registerRunCommands } from './run.ts';
import { registerValidate } from './validate.ts';
import { registerFacts } from './facts.ts';
import { registerLab } from './lab.ts';
import { registerImage } from './image.ts';
import { registerVerify } from './verify.ts';
import { registerDrain } from './drain.ts';

export const EXIT_CODES_HELP = `
Exit codes:
  0    success; for plan / apply --check: nothing to change
  1    bad input or usage (every problem printed as file:line:col), or a dry run that
       could not check a host (failed or unreachable)
  2    plan / apply --check: changes pending
  3    apply: at least one host failed (the others ran to the end)
  4    apply: at least one host unreachable
  5    apply: some hosts failed and some were unreachable
  130  interrupted (SIGINT/SIGTERM): no new step started after the signal`;

export function buildProgram(setCode: (c: number) => void): Command {
  const program = new Command('ramster-provision')
    .description(
      'Declarative, idempotent provisioning of RAMster memory-lending clusters.\n' +
        'Reads an Ansible-shaped inventory, plans every step of playbooks/site.yaml per host\n' +
        '(a dry run shows each change as a diff), then applies exactly those changes.',
    )
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  $ ramster-provision validate playbooks/inventory.example.yaml
  $ ramster-provision plan  -i inventory.yaml                 # dry run of playbooks/site.yaml
  $ ramster-provision apply -i inventory.yaml --tags conf     # one stage only
  $ ramster-provision apply -i inventory.yaml --check --diff  # same as plan
  $ ramster-provision facts -i inventory.yaml --limit node1
  $ ramster-provision drain -i inventory.yaml --limit node2   # before rebooting a lender
${EXIT_CODES_HELP}

Environment: NO_COLOR disables colour; RAMSTER_DEBUG=1 prints stack traces of internal errors.`,
    );
  registerValidate(program, setCode);
  registerRunCommands(program, setCode);
  registerFacts(program, setCode);
  registerVerify(program, setCode);
  registerDrain(program, setCode);
  registerLab(program, setCode);
  registerImage(program, setCode);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.OK;
  const program = buildProgram((c) => (code = c));
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT.ERROR;
    if (e instanceof InputError) {
      process.stderr.write(`${e.diagnostics.map(formatDiagnostic).join('\n')}\n`);
      process.stderr.write(`${e.diagnostics.length} error(s); nothing was run.\n`);
      return EXIT.ERROR;
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`error: ${msg}\n`);
    if (process.env.RAMSTER_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return EXIT.ERROR;
  }
  return code;
}
