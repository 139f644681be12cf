import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { computeTargets } from '../../../src/cluster/topology.ts';
import type { FleetHost } from './fleet.ts';

/** Cluster settings, written once into both inventories. */
export const CLUSTER_SETTINGS = {
  port: 7777,
  heartbeat_dead_threshold: 500,
  idle_timeout_ms: 1_000_000,
  keepalive_delay_ms: 2000,
  reconnect_delay_ms: 2000,
  topology: 'symmetric',
} as const;

const clusterName = (c: number) => `bench${c}`;

function byCluster(hosts: FleetHost[]): Map<number, FleetHost[]> {
  const m = new Map<number, FleetHost[]>();
  for (const h of hosts) m.set(h.cluster, [...(m.get(h.cluster) ?? []), h]);
  return m;
}

/** ramster-provision's inventory: one group per cluster with a `ramster:` section. */
export function writeOurInventory(
  dir: string,
  hosts: FleetHost[],
  o: { identity: string; knownHostsFile: string },
): string {
  const children: Record<string, unknown> = {};
  for (const [c, members] of byCluster(hosts)) {
    children[clusterName(c)] = {
      ramster: { cluster: clusterName(c), backend: 'legacy', ...CLUSTER_SETTINGS },
      hosts: Object.fromEntries(
        members.map((h) => [
          h.name,
          {
            address: h.address ?? '127.0.0.1',
            port: h.port,
            number: h.number,
            hostname: h.name,
            cluster_address: h.clusterAddress,
          },
        ]),
      ),
    };
  }
  const file = join(dir, 'inventory.yaml');
  writeFileSync(
    file,
    stringify({ all: { vars: { user: 'root', identity: o.identity, known_hosts: o.knownHostsFile }, children } }),
  );
  return file;
}

/** The same hosts for Ansible: cluster data as group vars, node number and target as host vars. */
export function writeAnsibleInventory(dir: string, hosts: FleetHost[], o: { identity: string }): string {
  const children: Record<string, unknown> = {};
  for (const [c, members] of byCluster(hosts)) {
    const targets = computeTargets(
      members.map((h) => h.number),
      CLUSTER_SETTINGS.topology,
      new Map(),
      1,
    );
    children[clusterName(c)] = {
      vars: {
        rp_cluster: clusterName(c),
        rp_port: CLUSTER_SETTINGS.port,
        rp_heartbeat_dead_threshold: CLUSTER_SETTINGS.heartbeat_dead_threshold,
        rp_idle_timeout_ms: CLUSTER_SETTINGS.idle_timeout_ms,
        rp_keepalive_delay_ms: CLUSTER_SETTINGS.keepalive_delay_ms,
        rp_reconnect_delay_ms: CLUSTER_SETTINGS.reconnect_delay_ms,
        rp_nodes: members.map((h) => ({ hostname: h.name, number: h.number, address: h.clusterAddress })),
      },
      hosts: Object.fromEntries(
        members.map((h) => [
          h.name,
          {
            ansible_host: '127.0.0.1',
            ansible_port: h.port,
            rp_number: h.number,
            rp_target: targets.get(h.number)?.[0] ?? '',
          },
        ]),
      ),
    };
  }
  const file = join(dir, 'ansible-inventory.yaml');
  writeFileSync(
    file,
    stringify({
      all: {
        vars: {
          ansible_user: 'root',
          ansible_connection: 'ssh',
          ansible_ssh_private_key_file: o.identity,
          ansible_python_interpreter: '/usr/bin/python3',
        },
        children,
      },
    }),
  );
  return file;
}
