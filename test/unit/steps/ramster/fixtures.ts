import { Barriers } from '../../../../src/engine/barrier.ts';
import { loadInventoryText } from '../../../../src/inventory/load.ts';
import type { Topology } from '../../../../src/inventory/types.ts';
import { inventoryTemplateVars } from '../../../../src/inventory/vars.ts';
import type { ClusterPeers, StepContext } from '../../../../src/steps/types.ts';
import type { Facts } from '../../../../src/transport/facts.ts';
import type { Transport } from '../../../../src/transport/types.ts';
import { debianFacts } from '../helpers.ts';

/** Template variables (`ramster`, …) of every host of a cluster, built by the real inventory
 *  loader: hosts host0.., hostnames node0.., cluster addresses 10.0.0.10+. */
export function clusterVars(
  count: number,
  topology: Topology = 'one-way',
  extra = '',
): Map<string, Record<string, unknown>> {
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
  return new Map([...inv.hosts.keys()].map((h) => [h, inventoryTemplateVars(inv, h)]));
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
  vars: Record<string, unknown>,
  opts: { facts?: Facts; cluster?: ClusterPeers } = {},
): StepContext {
  return {
    t,
    facts: opts.facts ?? debianFacts(),
    apply,
    host,
    vars,
    baseDir: '/nonexistent',
    log: () => {},
    cluster: opts.cluster,
  };
}

export { Barriers };
