import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LIMIT, longFunctions, longFunctionsInText } from '../architecture/long-functions.ts';

// Issue 13: no function over ~60 lines in src/ without a reason in a comment directly above it
// (`// long: ...`); `npm run functions` prints the long ones.
const SRC = fileURLToPath(new URL('../../src', import.meta.url));

describe('functions of src/', () => {
  const found = longFunctions(SRC);

  it(`over ${LIMIT} lines each give a reason in a \`long:\` comment`, () => {
    const unexplained = found.filter((f) => !f.reason);
    expect(unexplained.map((f) => `${f.file}:${f.line} ${f.name} (${f.lines} lines)`)).toEqual([]);
  });
});

describe('the long-function audit', () => {
  const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');

  it('counts the lines of a body, from brace to brace', () => {
    const text = `function short() {\n${body(3)}\n}\nfunction long() {\n${body(4)}\n}\n`;
    expect(longFunctionsInText(text, 'f.ts', 5)).toEqual([
      { name: 'long', file: 'f.ts', line: 6, lines: 6, reason: undefined },
    ]);
  });

  it('names methods, arrow functions, object members and callbacks', () => {
    const text = [
      `class C {\n  m() {\n${body(9)}\n  }\n}`,
      `const arrow = () => {\n${body(9)}\n};`,
      `export const step = define()({\n  async checkApply() {\n${body(9)}\n  },\n});`,
      `function outer() {\n  return new Promise((resolve) => {\n${body(9)}\n  });\n}`,
    ].join('\n');
    expect(longFunctionsInText(text, 'f.ts', 8).map((f) => f.name)).toEqual([
      'C.m',
      'arrow',
      'step.checkApply',
      'outer',
      '<arrow in outer>',
    ]);
  });

  it('reads the reason from the comment directly above, JSDoc or //', () => {
    const reasons = (text: string) => longFunctionsInText(text, 'f.ts', 5).map((f) => f.reason);
    expect(reasons(`// long: one switch over the token kinds\nfunction f() {\n${body(9)}\n}`)).toEqual([
      'one switch over the token kinds',
    ]);
    expect(
      reasons(`/**\n * Parses.\n * long: one table,\n * in order\n */\nexport function f() {\n${body(9)}\n}`),
    ).toEqual(['one table, in order']);
    expect(
      reasons(`const x = 1;\n  // long: the callback's state machine\n  x.on('data', (d) => {\n${body(9)}\n});`),
    ).toEqual(["the callback's state machine"]);
  });

  it('wants a reason of some words, directly above, not apart or inside', () => {
    const reasons = (text: string) => longFunctionsInText(text, 'f.ts', 5).map((f) => f.reason);
    expect(reasons(`// long:\nfunction f() {\n${body(9)}\n}`)).toEqual([undefined]);
    expect(reasons(`// long: why\nfunction f() {\n${body(9)}\n}`)).toEqual([undefined]);
    expect(reasons(`// long: a reason\n\nfunction f() {\n${body(9)}\n}`)).toEqual([undefined]);
    expect(reasons(`// along: the way\nfunction f() {\n${body(9)}\n}`)).toEqual([undefined]);
    expect(reasons(`function f() {\n  // long: a reason\n${body(9)}\n}`)).toEqual([undefined]);
  });
});
