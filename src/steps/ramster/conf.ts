import { createHash } from 'node:crypto';
import { renderRamsterConf } from '../../ramster/conf.ts';
import { formatConfErrors, parseRamsterConf } from '../../ramster/confparse.ts';
import { convergeFile } from '../file.ts';
import { defineStep, type Change } from '../types.ts';
import { hostLegacyCluster } from './cluster.ts';

export type RamsterConfArgs = {
  path?: string;
  validate?: string;
};

export const RAMSTER_CONF_PATH = '/etc/ramster.conf';

export const sha256 = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex');

export const ramsterConfStep = defineStep<RamsterConfArgs>()({
  name: 'ramster_conf',
  description:
    "/etc/ramster.conf rendered from the host's inventory cluster, checked with the ocfs2 parser's rules for this node, written 0644 root:root atomically; then its sha256 is compared across the cluster's nodes in this run (a dry run compares the file as it will be).",
  argsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      path: {
        type: 'string',
        pattern: '^/',
        description: `Where the file goes (default ${RAMSTER_CONF_PATH}, where ramster-ctl reads it).`,
      },
      validate: {
        type: 'string',
        description:
          'Extra command on the host that must accept the new file before it replaces the old one; %s is the temporary file, e.g. "RAMSTER_HOSTNAME=system1 /usr/sbin/ramster-ctl -c %s check".',
      },
    },
  },
  reads: (args) => [args.path ?? RAMSTER_CONF_PATH],
  async checkApply(args, ctx) {
    const path = args.path ?? RAMSTER_CONF_PATH;
    const { cluster, node } = hostLegacyCluster(ctx);
    const text = renderRamsterConf(cluster);
    // With this node's name, so the file must also have exactly one local node for it.
    const parsed = parseRamsterConf(text, node.hostname);
    if (!parsed.ok)
      throw new Error(
        `the rendered ${path} is not valid for node ${node.hostname}; nothing was written:\n${formatConfErrors(path, parsed.errors)}`,
      );

    const change = await convergeFile(
      ctx,
      { path, mode: '0644', owner: 'root', group: 'root', validate: args.validate },
      () => text,
    );

    // After convergence the file holds exactly `text` (in a dry run: will hold it).
    const mine = sha256(text);
    if (!ctx.cluster) return change;
    const all = await ctx.cluster.exchange('ramster.conf sha256', mine);
    const differ = [...all].filter(([, h]) => h !== mine);
    if (differ.length) {
      throw new Error(
        `${path} is not identical on every node: ${ctx.host} has sha256 ${mine.slice(0, 12)}…, ` +
          `${differ.map(([h, v]) => `${h} has ${v.slice(0, 12)}…`).join(', ')}. ` +
          'Every node must render it from the same inventory cluster: check that these hosts are in the same `ramster:` group and that no host overrides it.',
      );
    }
    const same = `identical on ${all.size} node${all.size === 1 ? '' : 's'} (sha256 ${mine.slice(0, 12)}…)`;
    const out: Change = { ...change, summary: `${change.summary}; ${same}` };
    return out;
  },
});
