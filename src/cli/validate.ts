import type { Command } from 'commander';
import { basename } from 'node:path';
import { InputError, formatDiagnostic, type Diagnostic } from '../input/diagnostics.ts';
import { EXIT } from '../engine/result.ts';
import type { YamlSource } from '../input/yamlsource.ts';

export function registerValidate(program: Command, setCode: (c: number) => void): void {
  program
    .command('validate')
    .description(
      'check inventories and playbooks (YAML, schema, cluster rules); every error at once, with file:line:col',
    )
    .argument(
      '[files...]',
      'inventory or playbook YAML files: a YAML list is a playbook, unless the file name says inventory',
    )
    .option(
      '-i, --inventory <file>',
      'a file to check as an inventory whatever its shape (repeatable)',
      (f: string, all: string[]) => [...all, f],
      [] as string[],
    )
    .action(async (files: string[], opts: { inventory: string[] }) => {
      const checks = [
        ...opts.inventory.map((file) => ({ file, inventory: true })),
        ...files.map((file) => ({ file, inventory: false })),
      ];
      if (checks.length === 0) program.error('error: give at least one file to validate');
      // Loaded here, not at the top, and only the loader a file needs: --help reads every
      // command's definition, and an inventory needs no step types.
      const { loadYamlFile } = await import('../input/yamlsource.ts');
      const diags: Diagnostic[] = [];
      for (const { file, inventory } of checks) {
        try {
          const { source, errors } = await loadYamlFile(file);
          if (!source) throw new InputError(errors);
          // Parsed once: the loaders check the source already read.
          if (inventory || !isPlaybook(source)) await checkInventorySource(source);
          else (await import('../playbook/load.ts')).playbookFromSource(source);
          process.stdout.write(`${file}: ok\n`);
        } catch (e) {
          if (e instanceof InputError) diags.push(...e.diagnostics);
          else throw e;
        }
      }
      if (diags.length) {
        process.stderr.write(`${diags.map(formatDiagnostic).join('\n')}\n${diags.length} error(s)\n`);
        setCode(EXIT.ERROR);
      }
    });
}

/** A playbook is a YAML list of plays. Any other list (of host names, say), or a list in a file
 *  named like an inventory, is checked as an inventory, which says it is not one. */
function isPlaybook(source: YamlSource): boolean {
  const looksLikePlay = (item: unknown) =>
    item !== null && typeof item === 'object' && ['hosts', 'steps', 'handlers'].some((k) => k in item);
  return Array.isArray(source.value) && source.value.some(looksLikePlay) && !/inventor/i.test(basename(source.file));
}

async function checkInventorySource(source: YamlSource): Promise<void> {
  const result = (await import('../inventory/load.ts')).checkInventory(source);
  if (!result.ok) throw new InputError(result.diagnostics);
}
