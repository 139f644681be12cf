import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError, type Diagnostic } from '../../src/input/diagnostics.ts';
import { MAX_INPUT_BYTES, readInputFile } from '../../src/input/inputfile.ts';
import { loadInventory, loadInventoryText } from '../../src/inventory/load.ts';
import { fastParse } from '../../src/input/yamlfast.ts';
import { loadYamlFile, parseYamlText } from '../../src/input/yamlsource.ts';
import { plainValue } from '../../src/input/yamlvalue.ts';
import { generateInventory } from '../bench/gen-inventory.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rp-yaml-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function diagnostics(text: string): Diagnostic[] {
  try {
    loadInventoryText('inv.yaml', text);
  } catch (e) {
    if (e instanceof InputError) return e.diagnostics;
    throw e;
  }
  return [];
}

describe('YAML features', () => {
  it('merges `<<: *defaults` keys; the host own keys win; the first of several merged mappings wins', () => {
    const inv = loadInventoryText(
      'inv.yaml',
      `all:
  children:
    lab:
      ramster: {cluster: lab, topology: one-way}
      hosts:
        node1: &node
          address: 10.0.0.11
          number: 0
          hostname: system1
          rack: r1
        node2:
          <<: [{number: 1, rack: r2}, *node]
          address: 10.0.0.12
          hostname: system2
`,
    );
    expect(inv.hosts.get('node2')).toMatchObject({ address: '10.0.0.12', vars: { rack: 'r2' } });
    expect(inv.clusters[0].nodes.map((n) => [n.host, n.number, n.hostname, n.clusterAddress])).toEqual([
      ['node1', 0, 'system1', '10.0.0.11'],
      ['node2', 1, 'system2', '10.0.0.12'],
    ]);
  });

  it('the fast parser and the located one give the same values', () => {
    const docs = [
      'a: &x {b: [1, 0x10, 0o17, 1.5e3, -7, .inf, null, ~, true, False, "q", \'s\']}\nc: *x\nd: {<<: *x, e: f}\n',
      'k: |\n  line one\n  line two\nf: >-\n  folded\n  text\nempty:\nlist:\n  - - nested\n    - [x, {y: z}]\n',
      'secret: !sensitive hunter2\n"quoted key": 1\n? explicit\n: value\n',
      generateInventory(20_000, 'valid'),
    ];
    for (const text of docs) {
      const located = plainValue(parseDocument(text, { uniqueKeys: false }), { maxDepth: 100, maxExpandedValues: 1e6 });
      expect(located.problems).toEqual([]);
      expect(fastParse(text, { maxDepth: 100, maxExpandedValues: 1e6 })?.value).toEqual(located.value);
    }
  });

  it('collects !sensitive values on both paths', () => {
    expect(parseYamlText('f.yaml', 'a: !sensitive hunter2\nb: plain\n').source?.secrets).toEqual(['hunter2']);
  });

  it('points at values reached through aliases and merges where they are written', () => {
    const { source } = parseYamlText('f.yaml', 'base: &b\n  port: 22\nhost:\n  <<: *b\n  user: root\n');
    expect(source!.locate(['host', 'port'])).toEqual({ line: 2, col: 9 });
    expect(source!.locate(['host', 'user'], true)).toEqual({ line: 5, col: 3 });
  });
});

describe('input that must be refused, with a location, never a crash', () => {
  it('block nesting 3000 levels deep', () => {
    let text = 'all:\n';
    for (let i = 1; i <= 3000; i++) text += `${' '.repeat(i)}k${i}:\n`;
    const [d, ...rest] = diagnostics(text);
    expect(rest).toEqual([]);
    expect(d.message).toMatch(/nested more than 100 levels/);
    expect(d.line).toBeGreaterThan(90);
    expect(d.line).toBeLessThan(110);
  });

  it('aliases that nest beyond the limit without deep text', () => {
    let text = 'a0: &a0 [x]\n';
    for (let i = 1; i <= 60; i++) text += `a${i}: &a${i} [[*a${i - 1}]]\n`;
    const [d] = diagnostics(text);
    expect(d.message).toMatch(/alias `\*a\d+` nests values deeper than 100 levels/);
  });
});

describe('input files', () => {
  it('refuses devices, FIFOs and directories at once, without reading them', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    for (const [file, kind] of [
      ['/dev/zero', 'a character device'],
      [fifo, 'a named pipe (FIFO)'],
      [dir, 'a directory'],
    ]) {
      const read = await readInputFile(file);
      expect(read).toEqual({
        error: {
          file,
          line: 1,
          col: 1,
          message: `this is ${kind}, not a regular file`,
          hint: expect.stringContaining('YAML file'),
        },
      });
    }
  });

  it(`refuses a file larger than ${MAX_INPUT_BYTES} bytes before reading it, and accepts one at the cap`, async () => {
    const big = join(dir, 'big.yaml');
    writeFileSync(big, '');
    truncateSync(big, MAX_INPUT_BYTES + 1);
    const read = await readInputFile(big);
    expect('error' in read && read.error.message).toBe(
      'the file is 8.0 MiB, larger than 8 MiB, the most an input file may be',
    );
    truncateSync(big, MAX_INPUT_BYTES);
    expect('text' in (await readInputFile(big))).toBe(true);
  });

  it('reads a file whole when stat said less than it holds (kernel files say 0 bytes)', async () => {
    expect(statSync('/proc/version').size).toBe(0);
    expect(await readInputFile('/proc/version')).toEqual({ text: readFileSync('/proc/version', 'utf8') });
  });

  it('refuses bytes that are not UTF-8 at their line and column, and keeps real U+FFFD characters', async () => {
    const bad = join(dir, 'latin1.yaml');
    writeFileSync(
      bad,
      Buffer.concat([Buffer.from('all:\n  hosts:\n    ab'), Buffer.from([0xc3, 0x28]), Buffer.from(':\n')]),
    );
    const { errors } = await loadYamlFile(bad);
    expect(errors).toMatchObject([{ line: 3, col: 7, message: 'byte 0xC3 here is not UTF-8 text' }]);
    const good = join(dir, 'fffd.yaml');
    writeFileSync(good, 'all:\n  vars: {mark: "\uFFFD"}\n  hosts:\n    h1:\n');
    expect((await loadInventory(good)).hosts.get('h1')?.vars).toEqual({ mark: '\uFFFD' });
  });
});
