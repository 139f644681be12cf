import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, InputError } from '../../src/input/diagnostics.ts';
import { loadInventory } from '../../src/inventory/load.ts';

// Each test/fixtures/inventory/invalid/NN-name.yaml is a broken inventory; NN-name.expected.txt
// holds exactly what the user must see for it (every diagnostic, formatted, in file order).
const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
const dir = join(repo, 'test/fixtures/inventory/invalid');
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

// Read from disk as the CLI does, so byte-level checks (UTF-8) are covered too.
async function diagnosticsFor(file: string): Promise<string> {
  try {
    await loadInventory(file);
  } catch (e) {
    if (e instanceof InputError)
      return `${e.diagnostics.map((d) => formatDiagnostic({ ...d, file: relative(repo, d.file) })).join('\n')}\n`;
    throw e;
  }
  return 'the inventory was accepted\n';
}

describe('invalid inventories', () => {
  it('has at least 35 fixtures, each with its expected output', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(35);
    for (const f of fixtures) expect(readdirSync(dir)).toContain(f.replace(/\.yaml$/, '.expected.txt'));
  });

  it.each(fixtures)('%s', async (f) => {
    const file = join(dir, f);
    const expected = readFileSync(file.replace(/\.yaml$/, '.expected.txt'), 'utf8');
    const actual = await diagnosticsFor(file);
    expect(actual).toBe(expected);
    // Every diagnostic says how to fix it.
    for (const block of actual.trimEnd().split(/\n(?=\S)/)) expect(block).toMatch(/\n {2}hint: \S/);
  });
});
