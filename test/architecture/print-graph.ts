/**
 * `npm run graph`: prints the import graph between the top-level folders of src/ (each edge
 * with its number of imports), then every forbidden edge and import cycle; exit 1 when there
 * is one. `npm run graph -- --why` also lists the imports behind each edge;
 * `npm run graph -- <dir>` reads another source tree (an older checkout's src/, to compare).
 */
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { fileGraph, folderGraph, folderOf, forbiddenEdges, importCycles, LAYERS } from './imports.ts';

const { values, positionals } = parseArgs({
  options: { why: { type: 'boolean', default: false } },
  allowPositionals: true,
});
const SRC = positionals[0] ? resolve(positionals[0]) : fileURLToPath(new URL('../../src', import.meta.url));
const why = values.why;

const files = fileGraph(SRC);
const folders = folderGraph(SRC, files);
console.log(`layers, top to bottom (imports go down only): ${LAYERS.map((l) => l.join(' | ')).join('  >  ')}`);
const perFolder = new Map<string, number>();
for (const f of files.keys()) perFolder.set(folderOf(SRC, f), (perFolder.get(folderOf(SRC, f)) ?? 0) + 1);
console.log(
  `files per folder: ${[...perFolder]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([d, n]) => `${d} ${n}`)
    .join(', ')}`,
);
console.log(`import graph of src/ (${files.size} files):`);
for (const [edge, imports] of folders) {
  console.log(`  ${edge}  (${imports.length})`);
  if (why) for (const i of imports) console.log(`      ${i}`);
}
const forbidden = forbiddenEdges(folders);
const cycles = importCycles(files);
for (const f of forbidden)
  console.log(`FORBIDDEN ${f.edge}: ${f.why}\n${f.imports.map((i) => `      ${i}`).join('\n')}`);
for (const c of cycles) console.log(`CYCLE ${c.map((f) => relative(SRC, f)).join(' <-> ')}`);
console.log(
  forbidden.length + cycles.length
    ? `${forbidden.length} forbidden edge(s), ${cycles.length} import cycle(s)`
    : 'no forbidden edge, no import cycle',
);
process.exitCode = forbidden.length + cycles.length ? 1 : 0;
