import type { YamlSource } from '../input/yamlsource.ts';

export type Backend = 'legacy' | 'modern';
export type Topology = 'one-way' | 'symmetric' | 'ram-server';
export type Connection = 'ssh' | 'local' | 'chroot';

/** One managed host: how to reach it and its merged variables. */
export interface HostEntry {
  /** Inventory name (the key under `hosts:`). */
  name: string;
  /** SSH endpoint (may differ from the cluster address, e.g. a forwarded port on 127.0.0.1),
   *  or an ssh_config `Host` alias. */
  address: string;
  /** SSH port; unset: ssh_config's Port, else 22. */
  port?: number;
  user?: string;
  become: boolean;
  /** Sensitive: never printed. */
  becomePassword?: string;
  /** Path of the SSH private key. */
  identity?: string;
  /** ssh_config file to read (`none`: none); unset: $RAMSTER_SSH_CONFIG, else ~/.ssh/config. */
  sshConfig?: string;
  connection: Connection;
  /** For connection local/chroot: the directory treated as the host's `/`. */
  root?: string;
  /** Groups the host belongs to, outermost first (always starts with `all`); shared by the
   *  hosts of the same groups, so frozen. */
  groups: readonly string[];
  /** Variables visible to playbooks: all.vars < group vars (outer to inner) < host vars. */
  vars: Record<string, unknown>;
}

/** A host's place in a RAMster cluster. */
export interface ClusterNode {
  host: string; // inventory name
  hostname: string; // must equal the node's `hostname` (or its short form)
  number: number; // 0..7
  /** Address the cluster's nodes use to reach each other. */
  clusterAddress: string;
  /** Node numbers this node lends its pages to (RAMster supports one; `replicas: 2` uses two). */
  targets: number[];
}

export interface Cluster {
  name: string;
  /** Group whose `ramster:` section defined the cluster. */
  group: string;
  port: number;
  heartbeatDeadThreshold: number;
  idleTimeoutMs: number;
  keepaliveDelayMs: number;
  reconnectDelayMs: number;
  backend: Backend;
  topology?: Topology;
  /** Every other key of the group's `ramster:` section (modern backend options etc.). */
  options: Record<string, unknown>;
  /** Sorted by node number. */
  nodes: ClusterNode[];
}

export interface Inventory {
  file: string;
  source: YamlSource;
  hosts: Map<string, HostEntry>;
  clusters: Cluster[];
  /** Values never to print: `!sensitive` values and become passwords. */
  secrets: string[];
}

export function clusterOf(inv: Inventory, host: string): Cluster | undefined {
  return inv.clusters.find((c) => c.nodes.some((n) => n.host === host));
}
