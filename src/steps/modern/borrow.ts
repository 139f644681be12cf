import { actualBorrowLines, desiredBorrowLines } from '../../modern/state.ts';
import { defineStep } from '../types.ts';
import { hostModernPlan } from './plan.ts';
import { reconcileLive } from './reconcile.ts';

export const modernBorrowStep = defineStep<Record<string, never>>()({
  name: 'modern_borrow',
  description:
    'Borrowing side, live: zswap on (compressor and max_pool_percent from the inventory), connected to each lender over NVMe/TCP (ctrl_loss_tmo=-1 with one copy, so a blip never fails swap I/O), md RAID1 of two lenders with replicas: 2, mkswap once (label ramster-remote) and swapon with the highest priority and discard. Applying runs `ramster-modern borrow-up` (what ramster-borrow.service runs at boot) and reads back. Put it after a `barrier: cluster`, so lenders export first.',
  argsSchema: { type: 'object', additionalProperties: false, properties: {} },
  async checkApply(_args, ctx) {
    return reconcileLive(ctx, hostModernPlan(ctx), {
      side: 'borrow',
      what: 'swap on remote RAM',
      diffName: '/live/remote-swap',
      desired: desiredBorrowLines,
      actual: actualBorrowLines,
      command: 'ramster-modern borrow-up',
    });
  },
});
