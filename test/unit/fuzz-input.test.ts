import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/diagnostics.ts';
import { loadInventoryText } from '../../src/inventory/load.ts';
import { loadPlaybookText } from '../../src/playbook/load.ts';

// Property: whatever a user's file looks like, loading either succeeds or throws an
// InputError whose every diagnostic has a position inside the file and a message —
// never any other exception (which the CLI would report as an internal error).
const LOCATED = /^[^:]+:\d+:\d+$/;

function mutations(text: string) {
  const lines = text.split('\n');
  return fc.oneof(
    // delete a range of characters
    fc.tuple(fc.nat(text.length), fc.integer({ min: 1, max: 12 })).map(([i, n]) => text.slice(0, i) + text.slice(i + n)),
    // insert YAML-significant characters
    fc.tuple(fc.nat(text.length), fc.constantFrom(':', '-', '{', '}', '[', ']', '"', "'", '\t', '\n', ' ', '#', '&a', '*a', '!sensitive ', '99999', '-1', 'null', '~', '{{ nope }}', '\r\n')).map(
      ([i, s]) => text.slice(0, i) + s + text.slice(i),
    ),
    // duplicate, drop or swap lines
    fc.tuple(fc.nat(lines.length - 1), fc.nat(lines.length - 1), fc.constantFrom('dup', 'drop', 'swap')).map(([a, b, op]) => {
      const l = [...lines];
      if (op === 'dup') l.splice(a, 0, l[a]);
      else if (op === 'drop') l.splice(a, 1);
      else [l[a], l[b]] = [l[b], l[a]];
      return l.join('\n');
    }),
    // replace a scalar value with another type
    fc.tuple(fc.nat(lines.length - 1), fc.constantFrom('0', '-5', '70000', 'true', '[]', '{}', '"x"', '1.5', 'a b c', '999.1.1.1')).map(([a, v]) => {
      const l = [...lines];
      l[a] = l[a].replace(/:\s.*$/, `: ${v}`);
      return l.join('\n');
    }),
  );
}

function check(load: (text: string) => unknown, text: string, lineCount: number): void {
  try {
    load(text);
  } catch (e) {
    if (!(e instanceof InputError)) throw new Error(`not an InputError for:\n${text}\n---\n${String(e instanceof Error ? e.stack : e)}`);
    expect(e.diagnostics.length).toBeGreaterThan(0);
    for (const d of e.diagnostics) {
      expect(`${d.file}:${d.line}:${d.col}`).toMatch(LOCATED);
      expect(d.line).toBeGreaterThanOrEqual(1);
      expect(d.line).toBeLessThanOrEqual(lineCount + 1);
      expect(d.message.length).toBeGreaterThan(3);
    }
  }
}

describe('malformed input never escapes as anything but located diagnostics', () => {
  it('inventories', () => {
    const base = readFileSync('playbooks/inventory.example.yaml', 'utf8');
    fc.assert(
      fc.property(mutations(base), (text) => check((t) => loadInventoryText('inv.yaml', t), text, text.split('\n').length)),
      { numRuns: 400, seed: 1 },
    );
  });

  it('playbooks', () => {
    const base = readFileSync('playbooks/example.yaml', 'utf8');
    fc.assert(
      fc.property(mutations(base), (text) => check((t) => loadPlaybookText('pb.yaml', t), text, text.split('\n').length)),
      { numRuns: 400, seed: 2 },
    );
  });
});
