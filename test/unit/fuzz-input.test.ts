import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError, type Diagnostic } from '../../src/input/diagnostics.ts';
import { loadInventoryText } from '../../src/inventory/load.ts';
import { HOST_KEYS, inventorySchema } from '../../src/inventory/schema.ts';
import { loadPlaybookText } from '../../src/playbook/load.ts';

// Property: whatever a user's file looks like, loading either succeeds or throws an
// InputError whose every diagnostic has a position inside the file and a message —
// never any other exception (which the CLI would report as an internal error).
const LOCATED = /^[^:]+:\d+:\d+$/;

function mutations(text: string) {
  const lines = text.split('\n');
  return fc.oneof(
    // delete a range of characters
    fc
      .tuple(fc.nat(text.length), fc.integer({ min: 1, max: 12 }))
      .map(([i, n]) => text.slice(0, i) + text.slice(i + n)),
    // insert YAML-significant characters
    fc
      .tuple(
        fc.nat(text.length),
        fc.constantFrom(
          ':',
          '-',
          '{',
          '}',
          '[',
          ']',
          '"',
          "'",
          '\t',
          '\n',
          ' ',
          '#',
          '&a',
          '*a',
          '!sensitive ',
          '99999',
          '-1',
          'null',
          '~',
          '{{ nope }}',
          '\r\n',
        ),
      )
      .map(([i, s]) => text.slice(0, i) + s + text.slice(i)),
    // duplicate, drop or swap lines
    fc
      .tuple(fc.nat(lines.length - 1), fc.nat(lines.length - 1), fc.constantFrom('dup', 'drop', 'swap'))
      .map(([a, b, op]) => {
        const l = [...lines];
        if (op === 'dup') l.splice(a, 0, l[a]);
        else if (op === 'drop') l.splice(a, 1);
        else [l[a], l[b]] = [l[b], l[a]];
        return l.join('\n');
      }),
    // replace a scalar value with another type
    fc
      .tuple(
        fc.nat(lines.length - 1),
        fc.constantFrom('0', '-5', '70000', 'true', '[]', '{}', '"x"', '1.5', 'a b c', '999.1.1.1'),
      )
      .map(([a, v]) => {
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
    if (!(e instanceof InputError))
      throw new Error(`not an InputError for:\n${text}\n---\n${String(e instanceof Error ? e.stack : e)}`);
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
      fc.property(mutations(base), (text) =>
        check((t) => loadInventoryText('inv.yaml', t), text, text.split('\n').length),
      ),
      { numRuns: 400, seed: 1 },
    );
  });

  it('playbooks', () => {
    const base = readFileSync('playbooks/example.yaml', 'utf8');
    fc.assert(
      fc.property(mutations(base), (text) =>
        check((t) => loadPlaybookText('pb.yaml', t), text, text.split('\n').length),
      ),
      { numRuns: 400, seed: 2 },
    );
  });
});

// Property: a known key misspelt by one edit is never taken silently. Whether it sits at the
// top, in a group, in a `ramster:` section, in group vars or in a host, loading reports a
// diagnostic on the line of the misspelt key.
describe('a known key one edit away is always reported', () => {
  const base = readFileSync('playbooks/inventory.example.yaml', 'utf8');
  const lines = base.split('\n');
  const KNOWN = new Set([
    'all',
    'vars',
    'hosts',
    'children',
    'ramster',
    ...Object.keys(inventorySchema.$defs.cluster.properties),
    ...HOST_KEYS,
  ]);
  // Lines whose key is a known key (not a group or host name), and that key's position.
  const keyed = lines.flatMap((l, i) => {
    const m = /^(\s*)([a-z_]+):/.exec(l);
    return m && KNOWN.has(m[2]) ? [{ line: i, indent: m[1].length, key: m[2] }] : [];
  });
  const letters = 'abcdefghijklmnopqrstuvwxyz_'.split('');
  const edit = fc.oneof(
    fc.record({ op: fc.constant('delete' as const), at: fc.nat(), ch: fc.constant('') }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), ch: fc.constantFrom(...letters) }),
    fc.record({ op: fc.constant('replace' as const), at: fc.nat(), ch: fc.constantFrom(...letters) }),
    fc.record({ op: fc.constant('swap' as const), at: fc.nat(), ch: fc.constant('') }),
  );
  const apply = (key: string, e: { op: string; at: number; ch: string }) => {
    const i = e.at % (key.length + (e.op === 'insert' ? 1 : 0));
    if (e.op === 'delete') return key.slice(0, i) + key.slice(i + 1);
    if (e.op === 'insert') return key.slice(0, i) + e.ch + key.slice(i);
    if (e.op === 'replace') return key.slice(0, i) + e.ch + key.slice(i + 1);
    const j = Math.min(i + 1, key.length - 1);
    return key.slice(0, i) + key[j] + key[i] + key.slice(j + 1);
  };

  it('inventories', () => {
    expect(keyed.length).toBeGreaterThan(15);
    fc.assert(
      fc.property(fc.constantFrom(...keyed), edit, (target, e) => {
        const typo = apply(target.key, e);
        fc.pre(typo.length > 0 && !KNOWN.has(typo));
        const mutated = [...lines];
        mutated[target.line] = mutated[target.line].replace(`${target.key}:`, `${typo}:`);
        let diagnostics: Diagnostic[] = [];
        try {
          loadInventoryText('inv.yaml', mutated.join('\n'));
        } catch (err) {
          if (!(err instanceof InputError)) throw err;
          diagnostics = err.diagnostics;
        }
        expect(
          diagnostics.map((d) => d.line),
          `\`${target.key}\` misspelt \`${typo}\` on line ${target.line + 1}`,
        ).toContain(target.line + 1);
      }),
      { numRuns: 500, seed: 3 },
    );
  });
});
