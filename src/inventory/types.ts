import type { YamlSource } from '../input/yamlsource.ts';
import type { ModernCluster } from '../modern/model.ts';
import type { LegacyCluster } from '../ramster/model.ts';

import type { ClusterNode } from '../cluster/model.ts';
export type { Backend, ClusterNode, Topology } from '../cluster/model.ts';
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

/** A cluster as its backend models it: src/ramster/model.ts (legacy), src/modern/model.ts. */
export type Cluster = LegacyCluster | ModernCluster;

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

/** A host's cluster and its own node in it (undefined when the host is in no cluster). */
export function hostInCluster(inv: Inventory, hostName: string): { cluster: Cluster; node: ClusterNode } | undefined {
  const cluster = clusterOf(inv, hostName);
  const node = cluster?.nodes.find((n) => n.host === hostName);
  return cluster && node ? { cluster, node } : undefined;
}
