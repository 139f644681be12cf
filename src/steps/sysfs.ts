import { readOnly } from '../transport/fileops.ts';
import { hostPath } from '../transport/types.ts';
import { defineStep, noChange, type Change } from './types.ts';
import { commandFailed, shq } from '../shell.ts';

export type SysfsArgs = {
  path: string;
  value: string | number;
  match?: 'exact' | 'contains';
  sensitive?: boolean;
};

const WRITE_FAILED = 70;

export const sysfsStep = defineStep<SysfsArgs>()({
  name: 'sysfs',
  description:
    'A kernel setting under /sys or /proc/sys: read, write when different, then read back, failing when the kernel silently ignored the write.',
  argsSchema: {
    type: 'object',
    required: ['path', 'value'],
    additionalProperties: false,
    properties: {
      path: {
        type: 'string',
        pattern: '^/(sys|proc/sys)/(?!(.*/)?\\.\\.?(/|$))',
        description: 'Absolute path under /sys or /proc/sys (no . or .. in it).',
      },
      value: {
        type: ['string', 'integer'],
        description: 'Value to write; compared with the file content with surrounding whitespace trimmed.',
      },
      match: {
        enum: ['exact', 'contains'],
        description:
          'exact (default): the file reads the value. contains: the value is one of the whitespace-separated words the file reads (for files that accumulate, like manual_node_up reading "0 1 ").',
      },
      sensitive: { type: 'boolean', description: 'Do not show the values in summaries or errors.' },
    },
  },
  async checkApply(args, ctx) {
    const { path } = args;
    if (!/^\/(sys|proc\/sys)\//.test(path) || path.split('/').some((c) => c === '..' || c === '.')) {
      throw new Error(`sysfs: path must be under /sys or /proc/sys, without '.' or '..', got ${JSON.stringify(path)}`);
    }
    const value = String(args.value).trim();
    const show = (v: string) => (args.sensitive ? '(sensitive)' : JSON.stringify(v));
    const p = shq(hostPath(ctx.t, path));
    const satisfied = (current: string) =>
      args.match === 'contains' ? value.split(/\s+/).every((w) => current.split(/\s+/).includes(w)) : current === value;

    const read = await ctx.t.exec(
      `if [ -e ${p} ]; then cat ${p}; else exit 3; fi`,
      readOnly({ timeoutMs: ctx.timeoutMs }),
    );
    if (read.code === 3) {
      const missing = `${path} does not exist (is the kernel module loaded, or the kernel booted with the feature enabled?)`;
      if (ctx.apply) throw new Error(missing);
      const change: Change = { action: 'update', summary: `set ${path} to ${show(value)}`, sensitive: args.sensitive };
      change.conditional = `${missing}; assumes an earlier step (module load, reboot) creates it`;
      return change;
    }
    if (read.code !== 0) throw new Error(commandFailed(`reading ${path}`, read, { lines: 1 }));
    const before = read.stdout.trim();
    if (satisfied(before)) return noChange(`${path} ${args.match === 'contains' ? 'contains' : 'is'} ${show(value)}`);

    const change: Change = {
      action: 'update',
      summary: `set ${path} to ${show(value)} (was ${show(before)})`,
      sensitive: args.sensitive,
    };
    if (!ctx.apply) return change;
    // Write and read back in one round trip: sysfs files may accept a write and keep the
    // old value (e.g. remote_target_nodenum when the node is not up yet).
    const w = await ctx.t.exec(`printf '%s\\n' ${shq(value)} > ${p} || exit ${WRITE_FAILED}; cat ${p}`, {
      timeoutMs: ctx.timeoutMs,
    });
    if (w.code === WRITE_FAILED) {
      const why = w.stderr.trim().split('\n').pop()?.replace(/^.*: /, '') || 'write error';
      throw new Error(`the kernel rejected writing ${show(value)} to ${path}: ${why}`);
    }
    if (w.code !== 0) throw new Error(commandFailed(`reading ${path} back after writing it`, w, { lines: 1 }));
    const after = w.stdout.trim();
    if (!satisfied(after)) {
      throw new Error(
        `the kernel accepted the write of ${show(value)} to ${path} but it still reads ${show(after)}; ` +
          'some settings are ignored until a precondition holds (e.g. a RAMster node must be up before it can be the remote target): check dmesg',
      );
    }
    return change;
  },
});
