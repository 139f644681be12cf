import { Barriers } from '../../../../src/engine/barrier.ts';
import { loadInventoryText } from '../../../../src/inventory/load.ts';
import { hostInCluster, type Topology } from '../../../../src/inventory/types.ts';
import { inventoryTemplateVars } from '../../../../src/inventory/vars.ts';
import type { ClusterPeers, StepContext } from '../../../../src/steps/types.ts';
import type { Facts } from '../../../../src/transport/facts.ts';
import type { Transport } from '../../../../src/transport/types.ts';
import { debianFacts } from '../helpers.ts';

/** What the engine gives a step about its host: template variables and the typed cluster. */
export type HostSetup = Pick<StepContext, 'vars' | 'inCluster'>;

/** Every host of a cluster as the engine sets it up, from the real inventory loader:
 *  hosts host0.., hostnames node0.., cluster addresses 10.0.0.10+. */
export function clusterHosts(count: number, topology: Topology = 'one-way', extra = ''): Map<string, HostSetup> {
  const hosts = Array.from(
    { length: count },
    (_, i) => `        host${i}: {number: ${i}, hostname: node${i}, cluster_address: 10.0.0.${10 + i}}`,
  ).join('\n');
  const inv = loadInventoryText(
    '/nonexistent/inv.yaml',
    `all:
  children:
    lab:
      ramster: {cluster: ramster, topology: ${topology}, backend: legacy${extra}}
      hosts:
${hosts}
`,
  );
  return new Map(
    [...inv.hosts.keys()].map((h) => [h, { vars: inventoryTemplateVars(inv, h), inCluster: hostInCluster(inv, h) }]),
  );
}

/** Cluster peers backed by the engine's real Barriers, for steps run side by side in a test. */
export function peers(barriers: Barriers, members: string[], host: string, step = 's0'): ClusterPeers {
  return {
    members,
    exchange: <T>(key: string, value: T) => barriers.exchange<T>(`${step}/${key}`, host, members, value),
  };
}

export function ramsterCtx(
  t: Transport,
  apply: boolean,
  host: string,
  setup: HostSetup,
  opts: { facts?: Facts; cluster?: ClusterPeers } = {},
): StepContext {
  return {
    t,
    facts: opts.facts ?? debianFacts(),
    apply,
    host,
    ...setup,
    baseDir: '/nonexistent',
    log: () => {},
    cluster: opts.cluster,
  };
}

export { Barriers };
