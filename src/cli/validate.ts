import type { Command } from 'commander';
import { InputError, formatDiagnostic, type Diagnostic } from '../diagnostics.ts';
import { EXIT } from '../engine/result.ts';

export function registerValidate(program: Command, setCode: (c: number) => void): void {
  program
    .command('validate')
    .description('check inventories and playbooks (YAML, schema, cluster rules); every error at once, with file:line:col')
    .argument('<files...>', 'inventory or playbook YAML files (a playbook is a YAML list of plays)')
    .action(async (files: string[]) => {
      // Loaded here, not at the top, and only the loader a file needs: --help reads every
      // command's definition, and an inventory needs no step types.
      const { loadYamlFile } = await import('../yamlsource.ts');
      const diags: Diagnostic[] = [];
      for (const f of files) {
        try {
          const { source, errors } = await loadYamlFile(f);
          if (!source) throw new InputError(errors);
          if (Array.isArray(source.value)) await (await import('../playbook/load.ts')).loadPlaybook(f);
          else await (await import('../inventory/load.ts')).loadInventory(f);
          process.stdout.write(`${f}: ok\n`);
        } catch (e) {
          if (e instanceof InputError) diags.push(...e.diagnostics);
          else throw e;
        }
      }
      if (diags.length) {
        process.stderr.write(diags.map(formatDiagnostic).join('\n') + `\n${diags.length} error(s)\n`);
        setCode(EXIT.ERROR);
      }
    });
}
