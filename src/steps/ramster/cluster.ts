import type { ClusterNode } from '../../cluster/model.ts';
import type { Cluster } from '../../inventory/types.ts';
import type { LegacyCluster } from '../../ramster/model.ts';
import type { StepContext } from '../types.ts';

/** The host's cluster and node, as the engine hands them to every step. */
export function hostCluster(ctx: Pick<StepContext, 'inCluster' | 'host'>): { cluster: Cluster; node: ClusterNode } {
  if (!ctx.inCluster) {
    throw new Error(
      `host ${ctx.host} is in no RAMster cluster: add it to the hosts of an inventory group that has a \`ramster:\` section (see playbooks/inventory.example.yaml)`,
    );
  }
  return ctx.inCluster;
}

/** The host's staging RAMster cluster, refusing a host of a modern cluster. */
export function hostLegacyCluster(ctx: Pick<StepContext, 'inCluster' | 'host'>): {
  cluster: LegacyCluster;
  node: ClusterNode;
} {
  const { cluster, node } = hostCluster(ctx);
  if (cluster.backend !== 'legacy') {
    throw new Error(
      `${ctx.host} is a node of cluster ${cluster.name}, which uses the ${cluster.backend} backend: ramster_* steps need \`backend: legacy\` (the default) in its \`ramster:\` section`,
    );
  }
  return { cluster, node };
}

/** A folder or chroot target is an image being built, not a running system: nothing
 *  about the running kernel, its mounts or its boot loader can be changed there. */
export { isImageTarget } from '../../transport/types.ts';

/** `/etc/default/...` (Debian) or `/etc/sysconfig/...` (Red Hat) style location for this host. */
export function osFamily(ctx: Pick<StepContext, 'facts' | 'host'>): 'debian' | 'redhat' {
  const f = ctx.facts.os_family;
  if (f === 'debian' || f === 'redhat') return f;
  throw new Error(
    `${ctx.host} runs ${ctx.facts.distro || 'an unknown distribution'} (family ${f}): the legacy backend supports Debian and Red Hat families (EL6 is the HOW-TO's reference)`,
  );
}
