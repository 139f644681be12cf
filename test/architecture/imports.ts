/**
 * The import graph of src/ and the layering it must keep: `npm run graph` prints it, and
 * test/unit/architecture.test.ts fails on a forbidden edge or an import cycle.
 *
 * A node of the folder graph is a top-level folder of src/; the loose files at the top of src/
 * (shared leaf utilities: shell quoting, framed output, redaction of secrets, the pid check) are one node, `(src)`.
 * Every relative import counts, type-only ones too: they tie the folders together as much.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** Top to bottom: a folder may import only folders of a LOWER layer, never one of its own layer
 *  or above. One layer holding several folders keeps them apart: the domains (legacy RAMster,
 *  the modern backend) reach no host and know nothing of each other. */
export const LAYERS: readonly (readonly string[])[] = [
  ['cli'],
  // image builds (a chroot target driven through the engine) and the QEMU lab (guests, their
  // network, state and inventory): apart, both on the guest image module below
  ['image', 'lab'],
  ['guestimage'], // guest disk images (recipe, mmdebstrap, cache, keys) and this machine's tools, for lab and image
  ['report'], // progress, diffs and recap of the engine's events and results
  ['engine'],
  ['playbook'], // playbook loading checks step args against the step registry
  ['steps'],
  // the inventory loader: parses and locates; each backend's settings, defaults and rules come from its domain
  ['inventory'],
  ['transport', 'ramster', 'modern', 'kernel'], // kernel: the kernel pipeline's pure half (build key, manifest, grub entries, kconfig)
  ['cluster'], // what every cluster is: nodes, numbers, topology -> targets
  ['input'], // input diagnostics: YAML with positions, located errors, ajv errors, suggestions
  ['(src)'],
];

export const LOOSE = '(src)';

/** file -> the files it imports (absolute paths, .ts files under src/ only). */
export type FileGraph = Map<string, string[]>;

/** "from -> to" between folders, with the importing file and specifier of each import. */
export type FolderGraph = Map<string, string[]>;

export function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports of each file (static, dynamic and `typeof import(...)`), resolved to paths. */
export function fileGraph(srcDir: string): FileGraph {
  const graph: FileGraph = new Map();
  for (const file of sourceFiles(srcDir)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    graph.set(
      file,
      importedFiles.filter((i) => i.fileName.startsWith('.')).map((i) => resolve(dirname(file), i.fileName)),
    );
  }
  return graph;
}

/** The top-level folder of src/ a file is in, or LOOSE for a file at the top. */
export function folderOf(srcDir: string, file: string): string {
  const parts = relative(srcDir, file).split(sep);
  return parts.length > 1 ? parts[0] : LOOSE;
}

export function folderGraph(srcDir: string, files: FileGraph): FolderGraph {
  const edges: FolderGraph = new Map();
  for (const [file, imports] of files) {
    for (const target of imports) {
      const from = folderOf(srcDir, file);
      const to = folderOf(srcDir, target);
      if (from === to) continue;
      const key = `${from} -> ${to}`;
      edges.set(key, [
        ...(edges.get(key) ?? []),
        `${relative(srcDir, file)} imports ${relative(dirname(file), target)}`,
      ]);
    }
  }
  return new Map([...edges].sort(([a], [b]) => a.localeCompare(b)));
}

const layerOf = (folder: string): number => LAYERS.findIndex((layer) => layer.includes(folder));

/** Why the edge `from -> to` breaks the layering, or undefined when it keeps it. */
export function edgeViolation(from: string, to: string): string | undefined {
  const [a, b] = [layerOf(from), layerOf(to)];
  if (a < 0) return `${from} is in no layer (add it to LAYERS in test/architecture/imports.ts)`;
  if (b < 0) return `${to} is in no layer (add it to LAYERS in test/architecture/imports.ts)`;
  if (a === b) return `${from} and ${to} are kept apart (same layer)`;
  if (a > b) return `${from} is below ${to}: imports go down the layers only`;
  return undefined;
}

/** Every edge of the folder graph that breaks the layering, with why and the imports behind it. */
export function forbiddenEdges(graph: FolderGraph): { edge: string; why: string; imports: string[] }[] {
  return [...graph].flatMap(([edge, imports]) => {
    const [from, to] = edge.split(' -> ');
    const why = edgeViolation(from, to);
    return why ? [{ edge, why, imports }] : [];
  });
}

/** Groups of files that import each other round in a circle (Tarjan's strongly connected
 *  components of more than one file, or a file importing itself). */
export function importCycles(graph: FileGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)?.includes(v)) cycles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}
