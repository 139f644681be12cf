import { clusterOf, type Inventory } from './types.ts';

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

/** What a playbook sees as `ramster`: the host's cluster, as plain data. */
export interface TemplateCluster {
  name: string;
  group: string;
  port: number;
  heartbeatDeadThreshold: number;
  idleTimeoutMs: number;
  keepaliveDelayMs: number;
  reconnectDelayMs: number;
  backend: string;
  topology?: string;
  options: Record<string, unknown>;
  /** Sorted by node number. */
  nodes: TemplateClusterNode[];
  /** This host's own entry of `nodes`. */
  node: TemplateClusterNode;
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
  let ramster: TemplateCluster | undefined;
  if (cluster) {
    const borrowersOf = (num: number) => cluster.nodes.filter((b) => b.targets.includes(num)).map((b) => b.number);
    const nodes = cluster.nodes.map((n) => ({
      host: n.host,
      hostname: n.hostname,
      number: n.number,
      address: n.clusterAddress,
      targets: [...n.targets],
      borrowers: borrowersOf(n.number),
    }));
    ramster = {
      name: cluster.name,
      group: cluster.group,
      port: cluster.port,
      heartbeatDeadThreshold: cluster.heartbeatDeadThreshold,
      idleTimeoutMs: cluster.idleTimeoutMs,
      keepaliveDelayMs: cluster.keepaliveDelayMs,
      reconnectDelayMs: cluster.reconnectDelayMs,
      backend: cluster.backend,
      topology: cluster.topology,
      options: structuredClone(cluster.options),
      nodes,
      node: nodes.find((n) => n.host === hostName)!,
    };
  }
  return { ...structuredClone(host.vars), inventory_hostname: hostName, ramster };
}
