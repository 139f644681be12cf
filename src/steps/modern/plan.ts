import { modernPlan, type ModernPlan } from '../../modern/plan.ts';
import type { StepContext } from '../types.ts';
import { hostCluster } from '../ramster/cluster.ts';

/** The modern backend's plan for this host, refusing a host of a legacy cluster. */
export function hostModernPlan(ctx: Pick<StepContext, 'inCluster' | 'host'>): ModernPlan {
  const { cluster, node } = hostCluster(ctx);
  if (cluster.backend !== 'modern') {
    throw new Error(
      `${ctx.host} is a node of cluster ${cluster.name}, which uses the ${cluster.backend} backend: modern_* steps need \`backend: modern\` in its \`ramster:\` section`,
    );
  }
  return modernPlan(cluster, node);
}
