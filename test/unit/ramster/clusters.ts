import type { ClusterNode, Topology } from '../../../src/cluster/model.ts';
import type { LegacyCluster } from '../../../src/ramster/model.ts';

/** Targets per topology, as the inventory loader derives them (one-way: 0 borrows from 1;
 *  symmetric: 0 <-> 1; ram-server: every node but 0 borrows from 0). */
export function targetsFor(topology: Topology, number: number): number[] {
  if (topology === 'one-way') return number === 0 ? [1] : [];
  if (topology === 'symmetric') return [number === 0 ? 1 : 0];
  return number === 0 ? [] : [0];
}

/** The HOW-TO's settings, which are the inventory's defaults. */
export const HOWTO_SETTINGS: LegacyCluster['ramster'] = {
  port: 7777,
  heartbeatDeadThreshold: 500,
  idleTimeoutMs: 1_000_000,
  keepaliveDelayMs: 2000,
  reconnectDelayMs: 2000,
};

/** A cluster of `count` nodes `node0..`, addresses 10.0.0.10+, with the HOW-TO's timeouts. */
export function makeCluster(count: number, topology: Topology = 'ram-server', name = 'ramster'): LegacyCluster {
  const nodes: ClusterNode[] = Array.from({ length: count }, (_, i) => ({
    host: `host${i}`,
    hostname: `node${i}`,
    number: i,
    clusterAddress: `10.0.0.${10 + i}`,
    targets: targetsFor(topology, i),
  }));
  return {
    name,
    group: 'ramster_nodes',
    backend: 'legacy',
    ramster: { ...HOWTO_SETTINGS },
    topology,
    nodes,
  };
}

/** The cluster with some of staging RAMster's settings changed. */
export const withRamster = (c: LegacyCluster, settings: Partial<LegacyCluster['ramster']>): LegacyCluster => ({
  ...c,
  ramster: { ...c.ramster, ...settings },
});

export const fixtureDir = new URL('../../fixtures/ramster-conf/', import.meta.url).pathname;
export const ramsterCtl = new URL('../../../playbooks/files/ramster-tools/ramster-ctl', import.meta.url).pathname;
