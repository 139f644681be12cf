import { readdirSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  edgeViolation,
  fileGraph,
  folderGraph,
  forbiddenEdges,
  importCycles,
  LAYERS,
} from '../architecture/imports.ts';

// The layering of src/ (cli -> engine -> steps -> transport, the domains apart) read from the
// real imports; `npm run graph` prints the same graph.
const SRC = fileURLToPath(new URL('../../src', import.meta.url));
const files = fileGraph(SRC);

describe('import graph of src/', () => {
  it('has no import against the layers', () => {
    expect(forbiddenEdges(folderGraph(SRC, files))).toEqual([]);
  });

  it('has no import cycle between files', () => {
    expect(importCycles(files).map((c) => c.map((f) => relative(SRC, f)))).toEqual([]);
  });

  it('places every top-level folder of src/ in a layer', () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.filter((f) => !LAYERS.some((l) => l.includes(f)))).toEqual([]);
  });

  it('reads static, dynamic and type-only imports', () => {
    const imports = (f: string) => files.get(`${SRC}/${f}`)!.map((i) => relative(SRC, i));
    expect(imports('cli/lab.ts')).toContain('lab/index.ts'); // import('../lab/index.ts')
    expect(imports('modern/verify.ts')).toContain('modern/probe.ts'); // import type
  });
});

describe('the layering rules', () => {
  it('allow imports down the layers, skipping some', () => {
    for (const [from, to] of [
      ['cli', 'engine'],
      ['engine', 'steps'],
      ['steps', 'transport'],
      ['cli', 'transport'],
      ['steps', 'ramster'],
      ['report', 'engine'],
      ['inventory', 'input'],
      ['ramster', 'input'],
      ['input', '(src)'],
    ])
      expect(edgeViolation(from, to), `${from} -> ${to}`).toBeUndefined();
  });

  it('refuse an import up the layers, between the domains, from a domain to the transport, or from an unplaced folder', () => {
    expect(edgeViolation('steps', 'engine')).toMatch(/steps is below engine/);
    expect(edgeViolation('transport', 'steps')).toMatch(/below/);
    expect(edgeViolation('steps', 'report')).toMatch(/below/);
    expect(edgeViolation('modern', 'ramster')).toMatch(/kept apart/);
    expect(edgeViolation('image', 'lab')).toMatch(/kept apart/);
    expect(edgeViolation('ramster', 'transport')).toMatch(/kept apart/);
    expect(edgeViolation('input', 'inventory')).toMatch(/input is below inventory/);
    expect(edgeViolation('newthing', 'engine')).toMatch(/newthing is in no layer/);
  });

  it('finds a cycle and the files in it', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
      ['e', ['e']],
    ]);
    expect(importCycles(g)).toEqual([['a', 'b', 'c'], ['e']]);
  });
});
