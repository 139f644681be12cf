import { convergeFile } from './file.ts';
import { FILE_SHELL_ARGS, fileAttrProperties, type FileAttrArgs } from './fileprops.ts';
import {
  bare,
  decodeText,
  insertionIndex,
  insertLines,
  insertAtProperties,
  splitLines,
  type InsertAt,
} from './lines.ts';
import { defineStep } from './types.ts';

export type BlockInFileArgs = FileAttrArgs &
  InsertAt & {
    path: string;
    block?: string;
    marker?: string;
    comment?: string;
    state?: 'present' | 'absent';
    create?: boolean;
  };

export const DEFAULT_MARKER = 'ramster-provision MANAGED BLOCK';

export const blockInFileStep = defineStep<BlockInFileArgs>()({
  name: 'blockinfile',
  shellArgs: FILE_SHELL_ARGS,
  description:
    'A block of lines between "# BEGIN <marker>" and "# END <marker>" lines; the rest of the file is kept byte for byte.',
  argsSchema: {
    type: 'object',
    required: ['path'],
    additionalProperties: false,
    properties: {
      path: { type: 'string', pattern: '^/', description: 'Absolute path of the file on the host.' },
      block: { type: 'string', description: 'Lines between the markers (a trailing newline is optional).' },
      marker: {
        type: 'string',
        description: `Text after BEGIN/END on the marker lines; one block per marker (default "${DEFAULT_MARKER}").`,
      },
      comment: { type: 'string', description: 'Comment prefix of the marker lines (default "#").' },
      state: {
        enum: ['present', 'absent'],
        description: 'present (default) inserts or replaces the block; absent removes it with its markers.',
      },
      create: { type: 'boolean', description: 'Create the file when it does not exist (default false: fail).' },
      ...insertAtProperties,
      ...fileAttrProperties,
    },
  },
  reads: (args) => [args.path],
  async checkApply(args, ctx) {
    const comment = args.comment ?? '#';
    const marker = args.marker ?? DEFAULT_MARKER;
    const begin = `${comment} BEGIN ${marker}`;
    const end = `${comment} END ${marker}`;
    const body = args.block ? splitLines(args.block.endsWith('\n') ? args.block : `${args.block}\n`) : [];
    const wanted = [`${begin}\n`, ...body, `${end}\n`];
    let did = '';
    const change = await convergeFile(ctx, { ...args, state: undefined }, (current) => {
      if (current === undefined) {
        if (args.state === 'absent') return null;
        if (!args.create) throw new Error(`${args.path} does not exist; set create: true to create it with the block`);
      }
      const text = current === undefined ? '' : decodeText(args.path, current);
      const [next, what] = editBlock(
        args.path,
        splitLines(text),
        begin,
        end,
        args.state === 'absent' ? undefined : wanted,
        args,
      );
      if (next !== text) did = `${what} block "${marker}"`;
      return next;
    });
    return change.action === 'none' || !did ? change : { ...change, summary: `${change.summary}: ${did}` };
  },
});

/** Returns the edited text and what was done; `wanted` undefined removes the block. */
function editBlock(
  path: string,
  lines: string[],
  begin: string,
  end: string,
  wanted: string[] | undefined,
  at: InsertAt,
): [string, string] {
  const b = lines.findIndex((l) => bare(l) === begin);
  const e = b < 0 ? -1 : lines.findIndex((l, i) => i > b && bare(l) === end);
  if (b >= 0 && e < 0)
    throw new Error(`${path}:${b + 1}: "${begin}" has no "${end}" line after it; repair the file by hand`);
  if (!wanted) return [b < 0 ? lines.join('') : [...lines.slice(0, b), ...lines.slice(e + 1)].join(''), 'remove'];
  if (b < 0) return [insertLines(lines, insertionIndex(lines, at), wanted).join(''), 'insert'];
  const block = [...wanted];
  // The END line was the file's last line without a newline: keep it that way.
  if (!lines[e].endsWith('\n')) block[block.length - 1] = end;
  return [[...lines.slice(0, b), ...block, ...lines.slice(e + 1)].join(''), 'replace'];
}
