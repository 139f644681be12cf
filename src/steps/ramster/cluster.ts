import type { Cluster, ClusterNode } from '../../inventory/types.ts';
import type { TemplateCluster } from '../../inventory/vars.ts';
import type { StepContext } from '../types.ts';

/**
 * The host's cluster in the shape the src/ramster renderers take, rebuilt from the `ramster`
 * template variable (what the engine hands every step), so steps need no inventory loader.
 */
export function hostCluster(ctx: Pick<StepContext, 'vars' | 'host'>): { cluster: Cluster; node: ClusterNode } {
  const r = ctx.vars.ramster as TemplateCluster | undefined;
  if (!r || typeof r !== 'object' || !Array.isArray(r.nodes) || !r.node) {
    throw new Error(
      `host ${ctx.host} is in no RAMster cluster: add it to the hosts of an inventory group that has a \`ramster:\` section (see playbooks/inventory.example.yaml)`,
    );
  }
  const toNode = (n: TemplateCluster['nodes'][number]): ClusterNode => ({
    host: n.host,
    hostname: n.hostname,
    number: n.number,
    clusterAddress: n.address,
    targets: [...n.targets],
  });
  const nodes = r.nodes.map(toNode).sort((a, b) => a.number - b.number);
  const cluster: Cluster = {
    name: r.name,
    group: r.group,
    port: r.port,
    heartbeatDeadThreshold: r.heartbeatDeadThreshold,
    idleTimeoutMs: r.idleTimeoutMs,
    keepaliveDelayMs: r.keepaliveDelayMs,
    reconnectDelayMs: r.reconnectDelayMs,
    backend: r.backend as Cluster['backend'],
    topology: r.topology as Cluster['topology'],
    options: r.options ?? {},
    nodes,
  };
  const node = nodes.find((n) => n.number === r.node.number)!;
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
