import type { ClusterNode } from '../cluster/model.ts';
import type { LegacyCluster } from './model.ts';

export const RAMSTER_SYSFS = '/sys/kernel/mm/ramster';
export const RAMSTER_CTL = '/usr/sbin/ramster-ctl';

/** How many times (one second apart) a borrowing node re-writes its target until it reads back. */
export const TARGET_RETRIES = 30;

/** The remote target of a node: RAMster's kernel takes one (remote_target_nodenum). */
export function remoteTarget(cluster: LegacyCluster, node: ClusterNode): number | undefined {
  if (node.targets.length > 1) {
    throw new Error(
      `node ${node.number} (${node.host}) lists ${node.targets.length} targets: the legacy RAMster kernel takes one remote target per node`,
    );
  }
  const target = node.targets[0];
  if (target === undefined) return undefined;
  if (target === node.number) throw new Error(`node ${node.number} (${node.host}) targets itself`);
  if (!cluster.nodes.some((n) => n.number === target))
    throw new Error(
      `node ${node.number} (${node.host}) targets node ${target}, which is not in cluster '${cluster.name}'`,
    );
  return target;
}

/**
 * The rc.local lines of one node, in the HOW-TO's order (C.4-C.6): make sure the configfs
 * cluster exists, mark every node up, then — on borrowing nodes only — set the target, read it
 * back, and enable remotifying.
 *
 * The `if` guards the node-up writes: written before the configfs cluster exists they are
 * swallowed and use up the node's one-shot flag until reboot (ramster-kernel.md, sysfs table).
 * The target write is retried because the kernel ignores it while the target is not yet up.
 */
export function heartbeatBlock(cluster: LegacyCluster, nodeNumber: number): string[] {
  const self = cluster.nodes.find((n) => n.number === nodeNumber);
  if (!self) throw new Error(`cluster '${cluster.name}' has no node number ${nodeNumber}`);
  const target = remoteTarget(cluster, self);
  const numbers = cluster.nodes.map((n) => n.number).sort((a, b) => a - b);
  const f = (name: string) => `${RAMSTER_SYSFS}/${name}`;

  const lines = [
    `if [ -d ${RAMSTER_SYSFS} ] && ${RAMSTER_CTL} start; then`,
    ...numbers.map((n) => `\techo ${n} > ${f('manual_node_up')}`),
  ];
  if (target !== undefined) {
    const readBack = `[ "$(cat ${f('remote_target_nodenum')})" = ${target} ]`;
    lines.push(
      `\ti=0; while [ $i -lt ${TARGET_RETRIES} ]; do echo ${target} > ${f('remote_target_nodenum')}; ${readBack} && break; i=$((i + 1)); sleep 1; done`,
      `\t${readBack} || logger -t ramster "node ${target} was not accepted as remote target (not up?)"`,
      `\techo 1 > ${f('pers_remotify_enable')}`,
      `\techo 1 > ${f('eph_remotify_enable')}`,
    );
  }
  lines.push(
    'else',
    `\tlogger -t ramster "RAMster not available or ramster-ctl start failed: node-up writes skipped"`,
    'fi',
  );
  return lines;
}
