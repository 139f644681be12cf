import { DEFAULTS_PATH, renderDefaults } from '../../ramster/defaults.ts';
import { convergeFile } from '../file.ts';
import { defineStep } from '../types.ts';
import { hostLegacyCluster, osFamily } from './cluster.ts';

export type RamsterDefaultsArgs = Record<string, never>;

export const ramsterDefaultsStep = defineStep<RamsterDefaultsArgs>()({
  name: 'ramster_defaults',
  description:
    "The ramster service settings (the HOW-TO's `service ramster configure` answers: load on boot, cluster, timeouts, this node's remote target) in /etc/default/ramster (Debian) or /etc/sysconfig/ramster (Red Hat), 0644 root:root.",
  argsSchema: { type: 'object', additionalProperties: false, properties: {} },
  reads: () => Object.values(DEFAULTS_PATH),
  async checkApply(_args, ctx) {
    const { cluster, node } = hostLegacyCluster(ctx);
    const path = DEFAULTS_PATH[osFamily(ctx)];
    const text = renderDefaults(cluster, node.number);
    return convergeFile(ctx, { path, mode: '0644', owner: 'root', group: 'root' }, () => text);
  },
});
