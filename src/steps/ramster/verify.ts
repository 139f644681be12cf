import { PROBE_SCRIPT, parseProbe } from '../../ramster/probe.ts';
import { NEEDS_KERNEL_NOTE, verifyNode } from '../../ramster/verify.ts';
import { probeFrames } from '../../transport/fileops.ts';
import { defineStep, noChange } from '../types.ts';
import { hostLegacyCluster, isImageTarget } from './cluster.ts';

export type RamsterVerifyArgs = Record<string, never>;

/** Read-only: the same checks as `ramster-provision verify`, as the last stage of a run. */
export const verifyStep = defineStep<RamsterVerifyArgs>()({
  name: 'ramster_verify',
  description:
    'Read-only check of this node, the same as `ramster-provision verify`: config, tools, boot parameters, rc.local, shutdown ordering, and on a RAMster kernel the kernel options, cluster Online, node-up, connections, target and remotify. Fails with the evidence and the fix; checks that need a RAMster kernel are reported as skipped on kernels without one.',
  argsSchema: { type: 'object', additionalProperties: false, properties: {} },
  async checkApply(_args, ctx) {
    if (isImageTarget(ctx.t))
      return {
        ...noChange('verify skipped'),
        skipped: 'an image is verified once booted: run `ramster-provision verify` against the host',
      };
    const { cluster, node } = hostLegacyCluster(ctx);
    const state = parseProbe(await probeFrames(ctx.t, PROBE_SCRIPT, 'probe RAMster state', ctx.timeoutMs));
    const checks = verifyNode(cluster, node, state);
    const failed = checks.filter((c) => c.status === 'fail');
    if (failed.length)
      throw new Error(
        `node ${node.number} (${ctx.host}) fails ${failed.length} check(s):\n${failed.map((c) => `  - ${c.title}: ${c.evidence}${c.fix ? ` (fix: ${c.fix})` : ''}`).join('\n')}`,
      );
    const passed = checks.filter((c) => c.status === 'pass').length;
    const needs = checks.filter((c) => c.status === 'needs-ramster-kernel').map((c) => c.id);
    if (needs.length)
      return {
        ...noChange(`node ${node.number}: ${passed} checks pass`),
        skipped: `${needs.length} checks (${needs.join(', ')}) ${NEEDS_KERNEL_NOTE}`,
      };
    return noChange(`node ${node.number}: all ${passed} checks pass: cluster ${cluster.name} Online`);
  },
});
