import { actualLendLines, desiredLendLines } from '../../modern/state.ts';
import { defineStep } from '../types.ts';
import { hostModernPlan } from './plan.ts';
import { reconcileLive } from './reconcile.ts';

export const modernLendStep = defineStep<Record<string, never>>()({
  name: 'modern_lend',
  description:
    "Lending side, live: one NVMe/TCP namespace per node that borrows from this one, backed by a sparse file on tmpfs (RAM is used only when written; discards give it back), exported only to that node's host NQN on the cluster address. Diffs nvmet's configfs against the plan; applying runs `ramster-modern lend-up` (what ramster-lend.service runs at boot) and reads back. Removes our exports the plan no longer has.",
  argsSchema: { type: 'object', additionalProperties: false, properties: {} },
  async checkApply(_args, ctx) {
    return reconcileLive(ctx, hostModernPlan(ctx), {
      side: 'lend',
      what: 'RAM lent over NVMe/TCP',
      diffName: '/live/nvmet-exports',
      desired: desiredLendLines,
      actual: actualLendLines,
      command: 'ramster-modern lend-up',
    });
  },
});
