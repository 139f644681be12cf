import { MODERN_PROBE_SCRIPT, parseModernProbe } from '../../modern/probe.ts';
import { verifyModernNode } from '../../modern/verify.ts';
import { probeFrames } from '../../transport/fileops.ts';
import { isImageTarget } from '../../transport/types.ts';
import { defineStep, noChange } from '../types.ts';
import { hostModernPlan } from './plan.ts';

/** Read-only: the same checks as `ramster-provision verify` on a modern cluster. */
export const modernVerifyStep = defineStep<Record<string, never>>()({
  name: 'modern_verify',
  description:
    'Read-only check of this node, the same as `ramster-provision verify` for `backend: modern`: units enabled and active, exports private to their borrower, each connection live, swap on remote RAM ahead of local swap, zswap on, both mirror legs in sync. Fails with the evidence and the fix.',
  argsSchema: { type: 'object', additionalProperties: false, properties: {} },
  async checkApply(_args, ctx) {
    if (isImageTarget(ctx.t))
      return {
        ...noChange('verify skipped'),
        skipped: 'an image is verified once booted: run `ramster-provision verify` against the host',
      };
    const plan = hostModernPlan(ctx);
    const checks = verifyModernNode(
      plan,
      parseModernProbe(await probeFrames(ctx.t, MODERN_PROBE_SCRIPT, 'read the modern backend state', ctx.timeoutMs)),
    );
    const failed = checks.filter((c) => c.status === 'fail');
    if (failed.length)
      throw new Error(
        `node ${plan.node} (${ctx.host}) fails ${failed.length} check(s):\n${failed.map((c) => `  - ${c.title}: ${c.evidence} (fix: ${c.fix})`).join('\n')}`,
      );
    return noChange(`node ${plan.node}: all ${checks.length} checks pass`);
  },
});
