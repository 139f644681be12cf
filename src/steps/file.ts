import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { normalizeMode, readFileState, removePath, setAttributes, writeFileAtomic } from '../transport/fileops.ts';
import { FILE_SHELL_ARGS, fileAttrProperties, type FileAttrArgs } from './fileprops.ts';
import { unifiedDiff } from './textdiff.ts';
import { defineStep, noChange, type Change, type StepContext } from './types.ts';

export type FileArgs = FileAttrArgs & {
  path: string;
  /** Literal content; or `src`, a file next to the playbook. */
  content?: string;
  src?: string;
  state?: 'present' | 'absent';
};

export const fileArgsSchema = {
  type: 'object',
  required: ['path'],
  additionalProperties: false,
  properties: {
    path: { type: 'string', pattern: '^/', description: 'Absolute path of the file on the host.' },
    content: { type: 'string', description: 'Exact content of the file (or give src).' },
    src: {
      type: 'string',
      description: "File whose bytes are copied, relative to the playbook's folder (or give content).",
    },
    state: { enum: ['present', 'absent'], description: 'present (default) writes the file; absent deletes it.' },
    ...fileAttrProperties,
  },
} as const;

/** Converges one file to the given bytes, mode and owner. Shared by file, template,
 *  blockinfile, lineinfile and mount, which only differ in how they compute the bytes.
 *  `desired` may return null: leave the file as it is (e.g. nothing to remove from a file
 *  that does not exist). */
export async function convergeFile(
  ctx: StepContext,
  args: Omit<FileArgs, 'content' | 'src'>,
  desired: (current: Buffer | undefined) => Buffer | string | null,
): Promise<Change> {
  const { path } = args;
  const mode = normalizeMode(args.mode);
  const st = await readFileState(ctx.t, path);
  if (st.isDir) throw new Error(`${path} is a directory`);
  if (args.state === 'absent') {
    if (!st.exists) return noChange(`${path} absent`);
    if (ctx.apply) await removePath(ctx.t, path);
    return {
      action: 'delete',
      summary: `delete ${path}`,
      sensitive: args.sensitive,
      diff: args.sensitive ? undefined : unifiedDiff(path, st.content, ''),
    };
  }
  const wanted = desired(st.content);
  if (wanted === null) return noChange(`${path} ${st.exists ? 'unchanged' : 'absent'}`);
  const want = Buffer.from(wanted);
  const contentDiffers = !st.exists || !st.content!.equals(want);
  const attrs: string[] = [];
  if (st.exists && mode && st.mode !== mode) attrs.push(`mode ${st.mode} -> ${mode}`);
  if (st.exists && args.owner && st.owner !== args.owner) attrs.push(`owner ${st.owner} -> ${args.owner}`);
  if (st.exists && args.group && st.group !== args.group) attrs.push(`group ${st.group} -> ${args.group}`);
  if (!contentDiffers && attrs.length === 0) return noChange(`${path} up to date`);

  if (ctx.apply) {
    if (contentDiffers) {
      await writeFileAtomic(ctx.t, path, want, {
        mode,
        owner: args.owner,
        group: args.group,
        backup: args.backup,
        validate: args.validate,
      });
    } else {
      await setAttributes(ctx.t, path, { mode, owner: args.owner, group: args.group });
    }
  }
  const what = !st.exists ? 'create' : 'update';
  const detail = [contentDiffers && st.exists ? 'content' : '', ...attrs].filter(Boolean).join(', ');
  return {
    action: what,
    summary: `${what} ${path}${detail ? ` (${detail})` : mode && !st.exists ? ` (mode ${mode})` : ''}`,
    diff: args.sensitive || !contentDiffers ? undefined : unifiedDiff(path, st.exists ? st.content : undefined, want),
    sensitive: args.sensitive,
  };
}

export async function readSource(ctx: StepContext, src: string): Promise<string> {
  return readFile(isAbsolute(src) ? src : join(ctx.baseDir, src), 'utf8');
}

export const fileStep = defineStep<FileArgs>()({
  name: 'file',
  shellArgs: FILE_SHELL_ARGS,
  description: 'A file with exact content, mode and owner (atomic write, optional backup and validate).',
  argsSchema: fileArgsSchema,
  reads: (args) => [args.path],
  async checkApply(args, ctx) {
    if (args.content !== undefined && args.src !== undefined) throw new Error('give either content or src, not both');
    const content = args.src !== undefined ? await readSource(ctx, args.src) : (args.content ?? '');
    return convergeFile(ctx, args, () => content);
  },
});
