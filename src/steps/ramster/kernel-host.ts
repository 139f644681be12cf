import { LocalTransport } from '../../transport/local.ts';
import type { Transport } from '../../transport/types.ts';
import type { StepContext } from '../types.ts';

/**
 * Which step instance does the build-host work of the kernel stage (kconfig, kernel_build).
 *
 * Each step instance only holds its own host's transport, so the work is done by one
 * instance: the build host's own (build_host `first` or a node's inventory name), or, for
 * `control` (the machine running ramster-provision), the instance of the first node of the
 * cluster taking part in the run, which then opens a LocalTransport. Outside a cluster the
 * host builds for itself.
 */
export interface BuildHostRole {
  /** Inventory name of the host whose step instance does the build-host work. */
  actor: string;
  /** This step instance is the actor. */
  isActor: boolean;
  /** `control` or the inventory name of the build host. */
  buildHost: string;
  /** For messages: `node1` or `control (this machine)`. */
  label: string;
  /** Transport to the build host; only set for the actor. */
  t?: Transport;
}

export const BUILD_HOST_DESCRIPTION =
  "Where the kernel is configured and built: 'first' (default: the cluster's node with the lowest node number taking part in the run), an inventory host name of the cluster, or 'control' (the machine running ramster-provision). Outside a cluster the host itself (or 'control').";

export const buildHostSchema = { type: 'string', minLength: 1, description: BUILD_HOST_DESCRIPTION } as const;

export function resolveBuildHost(
  ctx: Pick<StepContext, 't' | 'host' | 'vars' | 'cluster' | 'inCluster'>,
  arg: string | undefined,
): BuildHostRole {
  const wanted = arg === undefined || arg === '' ? 'first' : arg;
  if (!ctx.cluster) {
    if (wanted === 'control')
      return {
        actor: ctx.host,
        isActor: true,
        buildHost: 'control',
        label: 'control (this machine)',
        t: new LocalTransport(''),
      };
    if (wanted !== 'first' && wanted !== ctx.host) {
      throw new Error(
        `build_host '${wanted}': ${ctx.host} is in no RAMster cluster, so it can only build for itself ('first', its own name) or on 'control'`,
      );
    }
    return { actor: ctx.host, isActor: true, buildHost: ctx.host, label: ctx.host, t: ctx.t };
  }
  const members = ctx.cluster.members;
  const nodes = ctx.inCluster?.cluster.nodes ?? []; // sorted by number
  const first = nodes.find((n) => members.includes(n.host))?.host ?? [...members].sort()[0] ?? ctx.host;
  if (wanted === 'control') {
    const isActor = ctx.host === first;
    return {
      actor: first,
      isActor,
      buildHost: 'control',
      label: 'control (this machine)',
      t: isActor ? new LocalTransport('') : undefined,
    };
  }
  const buildHost = wanted === 'first' ? first : wanted;
  if (!members.includes(buildHost)) {
    const known = nodes.some((n) => n.host === buildHost);
    throw new Error(
      known
        ? `build_host '${buildHost}' does not take part in this run (left out by --limit or failed earlier); include it, or pick another build host`
        : `build_host '${buildHost}' is not a node of this cluster (nodes: ${nodes.map((n) => n.host).join(', ') || members.join(', ')}); use one of them, 'first' or 'control'`,
    );
  }
  const isActor = ctx.host === buildHost;
  return { actor: buildHost, isActor, buildHost, label: buildHost, t: isActor ? ctx.t : undefined };
}
