import { borrowersOf } from '../cluster/model.ts';
import type { ModernSettings } from '../modern/model.ts';
import type { RamsterSettings } from '../ramster/model.ts';
import { type Cluster, clusterOf, type Inventory } from './types.ts';

export interface TemplateClusterNode {
  host: string;
  hostname: string;
  number: number;
  /** The node's cluster address (ramster.conf `ip_address`), not its SSH endpoint. */
  address: string;
  targets: number[];
  /** Numbers of the nodes whose targets include this one (it lends them RAM). */
  borrowers: number[];
}

/** What a playbook sees as `ramster`: the host's cluster, as plain data (a view for templates
 *  and `when:`; steps get the typed model, StepContext.inCluster). */
export interface TemplateCluster {
  name: string;
  group: string;
  backend: Cluster['backend'];
  topology?: string;
  /** The backend's settings (src/ramster/model.ts or src/modern/model.ts). */
  settings: RamsterSettings | ModernSettings;
  /** Sorted by node number. */
  nodes: TemplateClusterNode[];
  /** This host's own entry of `nodes`. */
  node: TemplateClusterNode;
}

function templateCluster(cluster: Cluster, hostName: string): TemplateCluster {
  const nodes = cluster.nodes.map((n) => ({
    host: n.host,
    hostname: n.hostname,
    number: n.number,
    address: n.clusterAddress,
    targets: [...n.targets],
    borrowers: borrowersOf(cluster, n.number),
  }));
  return {
    name: cluster.name,
    group: cluster.group,
    backend: cluster.backend,
    topology: cluster.topology,
    settings: structuredClone(cluster.backend === 'modern' ? cluster.modern : cluster.ramster),
    nodes,
    node: nodes.find((n) => n.host === hostName)!,
  };
}

/** Variables a playbook sees for a host: merged vars, `inventory_hostname`, and `ramster`
 *  (undefined when the host is in no cluster). Copies, so templates cannot change the inventory. */
export function inventoryTemplateVars(
  inv: Inventory,
  hostName: string,
): Record<string, unknown> & { inventory_hostname: string; ramster?: TemplateCluster } {
  const host = inv.hosts.get(hostName);
  if (!host) throw new Error(`unknown host ${hostName} in inventory ${inv.file}`);
  const cluster = clusterOf(inv, hostName);
  const ramster = cluster ? templateCluster(cluster, hostName) : undefined;
  return { ...structuredClone(host.vars), inventory_hostname: hostName, ramster };
}
