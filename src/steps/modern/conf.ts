import { renderModernConf } from '../../modern/conf.ts';
import { CONF_PATH } from '../../modern/plan.ts';
import { convergeFile } from '../file.ts';
import { defineStep } from '../types.ts';
import { hostModernPlan } from './plan.ts';

export const modernConfStep = defineStep<Record<string, never>>()({
  name: 'modern_conf',
  description: `${CONF_PATH} rendered from the host's inventory cluster (what it lends to whom, what it borrows, swap and zswap settings), written 0644 root:root atomically; ramster-modern reads it at every boot.`,
  argsSchema: { type: 'object', additionalProperties: false, properties: {} },
  reads: () => [CONF_PATH],
  async checkApply(_args, ctx) {
    const text = renderModernConf(hostModernPlan(ctx));
    return convergeFile(ctx, { path: CONF_PATH, mode: '0644', owner: 'root', group: 'root' }, () => text);
  },
});
