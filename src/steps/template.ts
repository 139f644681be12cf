import { isAbsolute, join } from 'node:path';
import { convergeFile, readSource } from './file.ts';
import { FILE_SHELL_ARGS, fileAttrProperties, type FileAttrArgs } from './fileprops.ts';
import { renderTemplate } from './render.ts';
import { defineStep } from './types.ts';

export type TemplateArgs = FileAttrArgs & {
  path: string;
  src?: string;
  content?: string;
};

export const templateStep = defineStep<TemplateArgs>()({
  name: 'template',
  rawArgs: ['content'],
  shellArgs: FILE_SHELL_ARGS,
  description:
    'A file rendered from a template with {{ name }} / {{ a.b.c }} taken from the host variables (no expressions, no code).',
  argsSchema: {
    type: 'object',
    required: ['path'],
    additionalProperties: false,
    properties: {
      path: { type: 'string', pattern: '^/', description: 'Absolute path of the rendered file on the host.' },
      src: { type: 'string', description: "Template file, relative to the playbook's folder (or give content)." },
      content: { type: 'string', description: 'Template text inline (or give src).' },
      ...fileAttrProperties,
    },
  },
  reads: (args) => [args.path],
  async checkApply(args, ctx) {
    if ((args.src === undefined) === (args.content === undefined))
      throw new Error('template: give exactly one of src or content');
    let text: string;
    let where: string;
    if (args.src !== undefined) {
      where = isAbsolute(args.src) ? args.src : join(ctx.baseDir, args.src);
      try {
        text = await readSource(ctx, args.src);
      } catch (e) {
        throw new Error(
          `template source ${where} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); src is relative to the playbook's folder ${ctx.baseDir}`,
        );
      }
    } else {
      where = `template for ${args.path}`;
      text = args.content!;
    }
    const rendered = renderTemplate(text, ctx.vars, where);
    return convergeFile(ctx, args, () => rendered);
  },
});
