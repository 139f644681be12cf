import { InputError, sortDiagnostics, type Diagnostic } from '../input/diagnostics.ts';
import { loadYamlFile, parseYamlText, type YamlSource } from '../input/yamlsource.ts';
import { buildClusters } from './clusters.ts';
import { buildHost, hostMerger, type MergedHost } from './hosts.ts';
import { schemaDiagnostics } from './schema.ts';
import { groupDepths, readTree } from './tree.ts';
import type { HostEntry, Inventory } from './types.ts';

/** Reads and checks an inventory file; throws InputError listing every problem found. */
export async function loadInventory(file: string): Promise<Inventory> {
  const { source, errors } = await loadYamlFile(file);
  return fromSource(source, errors);
}

/** Same as loadInventory for text already in memory (`file` is only used in messages). */
export function loadInventoryText(file: string, text: string): Inventory {
  const { source, errors } = parseYamlText(file, text);
  return fromSource(source, errors);
}

function fromSource(source: YamlSource | undefined, errors: Diagnostic[]): Inventory {
  if (!source) throw new InputError(errors);
  const problems = checkInventory(source);
  if (!problems.ok) throw new InputError(problems.diagnostics);
  return problems.inventory;
}

/** Schema and cluster checks together, so a user sees every problem in one run. */
export function checkInventory(
  source: YamlSource,
): { ok: true; inventory: Inventory } | { ok: false; diagnostics: Diagnostic[] } {
  const fail = (diagnostics: Diagnostic[]) => ({
    ok: false as const,
    diagnostics: dedupe(sortDiagnostics(diagnostics)),
  });
  if (source.value === null || source.value === undefined) {
    return fail([
      source.diag(
        [],
        'the inventory is empty',
        'start with `all:` and list hosts under it; see playbooks/inventory.example.yaml',
      ),
    ]);
  }

  const problems = schemaDiagnostics(source);
  const tree = readTree(source, problems);
  const mergeHost = hostMerger(tree, groupDepths(tree));
  const merged = new Map<string, MergedHost>();
  const hosts = new Map<string, HostEntry>();
  for (const name of tree.hosts.keys()) {
    const m = mergeHost(name);
    merged.set(name, m);
    hosts.set(name, buildHost(m, source, problems));
  }
  const clusters = buildClusters(tree, merged, source, problems);
  if (problems.length) return fail(problems);
  const secrets = [...source.secrets];
  for (const h of hosts.values()) if (h.becomePassword) secrets.push(h.becomePassword);
  return { ok: true, inventory: { file: source.file, source, hosts, clusters, secrets } };
}

function dedupe(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return ds.filter((d) => {
    const key = `${d.line}:${d.col}:${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
