import { convergeFile } from './file.ts';
import { FILE_SHELL_ARGS, fileAttrProperties, type FileAttrArgs } from './fileprops.ts';
import {
  bare,
  decodeText,
  insertionIndex,
  insertLines,
  insertAtProperties,
  splitLines,
  userRegex,
  type InsertAt,
} from './lines.ts';
import { defineStep } from './types.ts';

export type LineInFileArgs = FileAttrArgs &
  InsertAt & {
    path: string;
    line?: string;
    regexp?: string;
    state?: 'present' | 'absent';
    create?: boolean;
  };

export const lineInFileStep = defineStep<LineInFileArgs>()({
  name: 'lineinfile',
  shellArgs: FILE_SHELL_ARGS,
  description:
    'One line in a file: replaced where a regexp matches, else inserted; or removed. Other lines are kept byte for byte.',
  argsSchema: {
    type: 'object',
    required: ['path'],
    additionalProperties: false,
    properties: {
      path: { type: 'string', pattern: '^/', description: 'Absolute path of the file on the host.' },
      line: { type: 'string', description: 'The whole line (without newline). Required for state present.' },
      regexp: {
        type: 'string',
        description:
          'Regular expression (JavaScript syntax): present replaces the LAST matching line with line (it should also match line, to stay idempotent); absent removes every matching line.',
      },
      state: {
        enum: ['present', 'absent'],
        description: 'present (default) or absent (removes lines equal to line, or matching regexp).',
      },
      create: { type: 'boolean', description: 'Create the file when it does not exist (default false: fail).' },
      ...insertAtProperties,
      ...fileAttrProperties,
    },
  },
  reads: (args) => [args.path],
  async checkApply(args, ctx) {
    const absent = args.state === 'absent';
    if (!absent && args.line === undefined) throw new Error('lineinfile: line is required for state present');
    if (absent && args.line === undefined && args.regexp === undefined)
      throw new Error('lineinfile: state absent needs line or regexp');
    if (args.line?.includes('\n'))
      throw new Error('lineinfile: line must be a single line (use blockinfile for several)');
    const re = args.regexp === undefined ? undefined : userRegex(args.regexp, 'regexp');
    const matches = (l: string) => (re ? re.test(bare(l)) : bare(l) === args.line);
    let did = '';
    const change = await convergeFile(ctx, { ...args, state: undefined }, (current) => {
      if (current === undefined) {
        if (absent) return null;
        if (!args.create) throw new Error(`${args.path} does not exist; set create: true to create it with the line`);
      }
      const text = current === undefined ? '' : decodeText(args.path, current);
      const lines = splitLines(text);
      let next: string[];
      if (absent) {
        next = lines.filter((l) => !matches(l));
        did = `remove ${lines.length - next.length} line(s)`;
      } else {
        let last = -1;
        for (const [i, l] of lines.entries()) if (matches(l)) last = i;
        if (last >= 0) {
          next = [...lines];
          next[last] = args.line! + lines[last].slice(bare(lines[last]).length); // keep its line ending
          did = `replace line ${last + 1}`;
        } else if (lines.some((l) => bare(l) === args.line)) {
          next = lines; // regexp matched nothing but the exact line is already there
        } else {
          next = insertLines(lines, insertionIndex(lines, args), [`${args.line}\n`]);
          did = 'insert line';
        }
      }
      const out = next.join('');
      if (out === text) did = '';
      return out;
    });
    return change.action === 'none' || !did ? change : { ...change, summary: `${change.summary}: ${did}` };
  },
});
