import type { ClusterNode } from '../../cluster/model.ts';
import type { LegacyCluster } from '../../ramster/model.ts';
import { DEFAULTS_PATH } from '../../ramster/defaults.ts';
import { RAMSTER_CTL, RAMSTER_SYSFS, remoteTarget } from '../../ramster/heartbeat.ts';
import { probe, probeFrames, run } from '../../transport/fileops.ts';
import type { Frames } from '../../frame.ts';
import { hostPath } from '../../transport/types.ts';
import { defineStep, noChange, type Change, type StepContext } from '../types.ts';
import { hostLegacyCluster } from './cluster.ts';
import { shq } from '../../shell.ts';

export type BringupArgs = {
  connect_timeout_s?: number;
  dmesg_command?: string;
};

export const NEEDS_RAMSTER_KERNEL = 'needs a RAMster kernel booted with `zcache ramster` (see verify)';
const DEFAULT_CONNECT_TIMEOUT_S = 120;
const POLL_MS = 1000;

/** What one node found before doing anything; exchanged so every node decides alike. */
interface NodeState {
  kernel: boolean;
  /** A problem that stops the bring-up on this node (reported by every node). */
  error?: string;
}

interface Plan {
  start: boolean;
  startTrace: string[];
  nodeUp: number[];
  unconnected: number[];
  remotify?: number;
  conditional?: string;
}

/** Peer number -> is the last connection message of this boot a connection (not a loss)?
 *  `gaveUp` lists peers the kernel stopped trying to reach (only a reboot helps). */
export function peerConnections(dmesg: string, peers: number[]): { connected: number[]; gaveUp: number[] } {
  const lines = dmesg.split('\n');
  const last = (re: RegExp) => lines.reduce((at, l, i) => (re.test(l) ? i : at), -1);
  const connected: number[] = [];
  const gaveUp: number[] = [];
  for (const p of peers) {
    const up = last(new RegExp(String.raw`(?:Accepted connection from|Connected to) node \S+ \(num ${p}\)`));
    const lost = last(new RegExp(String.raw`No longer connected to node \S+ \(num ${p}\)`));
    const given = last(new RegExp(`No connection established with node ${p} after`));
    if (up > Math.max(lost, given)) connected.push(p);
    else if (given > Math.max(up, lost)) gaveUp.push(p);
  }
  return { connected, gaveUp };
}

const words = (s: string | undefined) => (s ?? '').trim().split(/\s+/).filter(Boolean);

/** Runs ramster-ctl; for a folder target every path it uses is redirected into the folder. */
export function ctl(ctx: StepContext, node: ClusterNode, args: string): string {
  const root = ctx.t.root.replace(/\/+$/, '');
  const family = ctx.facts.os_family === 'redhat' ? 'redhat' : 'debian';
  const env = root
    ? [
        `RAMSTER_CONF=${shq(`${root}/etc/ramster.conf`)}`,
        `RAMSTER_DEFAULTS=${shq(`${root}${DEFAULTS_PATH[family]}`)}`,
        `RAMSTER_CONFIGFS=${shq(`${root}/sys/kernel/config`)}`,
        `RAMSTER_SYSFS=${shq(`${root}${RAMSTER_SYSFS}`)}`,
        `RAMSTER_PROC=${shq(`${root}/proc`)}`,
        `RAMSTER_HOSTNAME=${shq(node.hostname)}`,
        '',
      ].join(' ')
    : '';
  return `${env}${shq(hostPath(ctx.t, RAMSTER_CTL))} ${args}`;
}

/** One round trip: sysfs values, whether ramster-ctl is there, what `ramster-ctl -n start`
 *  would do, and the connection lines of the kernel log. */
async function readState(ctx: StepContext, node: ClusterNode, dmesgCommand: string): Promise<Frames> {
  const s = shq(hostPath(ctx.t, RAMSTER_SYSFS));
  const script = `S=${s}
if [ ! -d "$S" ]; then rp_frame nokernel; exit 0; fi
for f in manual_node_up remote_target_nodenum pers_remotify_enable eph_remotify_enable; do rp_frame "$f"; cat "$S/$f" 2>/dev/null; done
if [ -x ${shq(hostPath(ctx.t, RAMSTER_CTL))} ]; then
  out=$(${ctl(ctx, node, '-n -v start')} 2>&1); rc=$?
  rp_frame start_rc; echo $rc; rp_frame start; printf '%s\\n' "$out"
fi
rp_frame dmesg; { ${dmesgCommand}; } 2>/dev/null | grep -E '\\(num [0-9]+\\)|No connection established with node' | tail -n 400
true`;
  return probeFrames(ctx.t, script, 'read RAMster state', ctx.timeoutMs);
}

async function readDmesg(ctx: StepContext, dmesgCommand: string): Promise<string> {
  return probe(
    ctx.t,
    `{ ${dmesgCommand}; } 2>/dev/null | grep -E '\\(num [0-9]+\\)|No connection established with node' | tail -n 400; true`,
    'read the kernel log',
    ctx.timeoutMs,
  );
}

function planFor(ctx: StepContext, cluster: LegacyCluster, node: ClusterNode, sec: Frames): Plan {
  const numbers = cluster.nodes.map((n) => n.number);
  const peers = numbers.filter((n) => n !== node.number);
  const up = words(sec.body('manual_node_up')).map(Number);
  const target = remoteTarget(cluster, node);
  const plan: Plan = { start: false, startTrace: [], nodeUp: numbers.filter((n) => !up.includes(n)), unconnected: [] };

  if (!sec.has('start_rc')) {
    if (ctx.apply) throw new Error(`${RAMSTER_CTL} is not installed; run the tools stage first (--tags tools)`);
    plan.start = true;
    plan.conditional = `${RAMSTER_CTL} is not installed yet; assumes the tools stage installs it`;
  } else {
    const rc = words(sec.body('start_rc'))[0];
    const text = sec.body('start').trimEnd();
    if (rc === '2') {
      plan.start = true;
      plan.startTrace = text.split('\n').filter((l) => l.startsWith('+ '));
    } else if (rc !== '0') {
      throw new Error(`ramster-ctl start would fail:\n${text}`);
    }
  }

  const { connected, gaveUp } = peerConnections(sec.body('dmesg'), peers);
  if (gaveUp.length) {
    throw new Error(
      `the kernel gave up connecting to node ${gaveUp.join(', ')} ("No connection established with node ... giving up" in dmesg): only a reboot recovers. ` +
        'Reboot all nodes of the cluster together (ramster-provision doctor explains the dmesg lines)',
    );
  }
  plan.unconnected = peers.filter((p) => !connected.includes(p));

  if (target !== undefined) {
    const cur = words(sec.body('remote_target_nodenum'))[0] ?? 'unset';
    if (cur !== 'unset' && cur !== String(target)) {
      throw new Error(
        `remote_target_nodenum is already ${cur}, not ${target}: the kernel cannot change the remote target until a reboot; reboot this node`,
      );
    }
    const on = (f: string) => words(sec.body(f))[0] === '1';
    if (cur !== String(target) || !on('pers_remotify_enable') || !on('eph_remotify_enable')) plan.remotify = target;
  }
  return plan;
}

export const bringupStep = defineStep<BringupArgs>()({
  name: 'ramster_bringup',
  description:
    'Live RAMster cluster bring-up on a running RAMster kernel, every node together: ramster-ctl start, a cluster barrier, node-up on all nodes at once, a bounded wait for the connection messages of every peer, another barrier, then on borrowing nodes the remote target (read back) and remotify on. Skipped on a kernel without /sys/kernel/mm/ramster.',
  argsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      connect_timeout_s: {
        type: 'number',
        exclusiveMinimum: 0,
        description: `How long to wait for "Accepted connection from node" / "Connected to node" of every peer after node-up (default ${DEFAULT_CONNECT_TIMEOUT_S}).`,
      },
      dmesg_command: {
        type: 'string',
        description: 'Command printing this boot\'s kernel messages (default "dmesg"; e.g. "journalctl -k -b -o cat").',
      },
    },
  },
  async checkApply(args, ctx) {
    const { cluster, node } = hostLegacyCluster(ctx);
    if (!ctx.cluster) throw new Error(`${ctx.host} has no cluster peers in this run`);
    const dmesgCommand = args.dmesg_command ?? 'dmesg';
    const timeoutS = args.connect_timeout_s ?? DEFAULT_CONNECT_TIMEOUT_S;

    // Every node goes through the same exchanges whatever it finds: a node that left the
    // sequence early would keep the others waiting.
    const agreed = await agreePlan(ctx, cluster, node, dmesgCommand);
    if ('skip' in agreed) return agreed.skip;
    const p = agreed.plan;
    const change = describePlan(cluster, node, p, timeoutS);
    await bringUp(ctx, cluster, node, p, dmesgCommand, timeoutS);
    return change;
  },
});

/** This node's plan, once every node has read its state: a skip when a node has no RAMster
 *  kernel; throws when a node could not read or plan. */
async function agreePlan(
  ctx: StepContext,
  cluster: LegacyCluster,
  node: ClusterNode,
  dmesgCommand: string,
): Promise<{ plan: Plan } | { skip: Change }> {
  let plan: Plan | undefined;
  const mine: NodeState = { kernel: false };
  try {
    const sec = await readState(ctx, node, dmesgCommand);
    mine.kernel = !sec.has('nokernel');
    if (mine.kernel) plan = planFor(ctx, cluster, node, sec);
  } catch (e) {
    mine.error = (e as Error).message;
  }
  const states = await ctx.cluster!.exchange<NodeState>('state', mine);
  const noKernel = [...states].filter(([, s]) => !s.kernel).map(([h]) => h);
  if (noKernel.length) {
    const who = noKernel.length === states.size ? '' : ` (missing on ${noKernel.join(', ')})`;
    return { skip: { ...noChange(`cluster bring-up skipped${who}`), skipped: `${NEEDS_RAMSTER_KERNEL}${who}` } };
  }
  if (mine.error) throw new Error(mine.error);
  const failed = [...states].filter(([, s]) => s.error);
  if (failed.length)
    throw new Error(
      `cluster bring-up stopped: ${failed.map(([h, s]) => `${h}: ${s.error!.split('\n')[0]}`).join('; ')}`,
    );
  return { plan: plan! };
}

/** The change the plan makes on this node (none when the node is up and connected). */
function describePlan(cluster: LegacyCluster, node: ClusterNode, p: Plan, timeoutS: number): Change {
  const actions = [
    p.start ? 'ramster-ctl start' : '',
    p.nodeUp.length ? `node-up ${p.nodeUp.join(' ')}` : '',
    p.remotify !== undefined ? `remotify to node ${p.remotify} (read back)` : '',
  ].filter(Boolean);
  const waitNote = p.unconnected.length
    ? `; waits up to ${timeoutS} s for node ${p.unconnected.join(', ')} to connect`
    : '';
  const change: Change = actions.length
    ? {
        action: 'run',
        summary: `cluster ${cluster.name} node ${node.number}: ${actions.join('; ')}${waitNote}`,
        diff: p.startTrace.length ? `${p.startTrace.join('\n')}\n` : undefined,
      }
    : noChange(
        `cluster ${cluster.name} node ${node.number}: configured, nodes ${cluster.nodes.map((n) => n.number).join(' ')} up${waitNote || ', every peer connected'}${node.targets.length ? `, remote target node ${node.targets[0]}, remotify on` : ''}`,
      );
  if (p.conditional) change.conditional = p.conditional;
  return change;
}

/** Carries the plan out in step with the other nodes (a dry run only goes through the exchanges). */
async function bringUp(
  ctx: StepContext,
  cluster: LegacyCluster,
  node: ClusterNode,
  p: Plan,
  dmesgCommand: string,
  timeoutS: number,
): Promise<void> {
  const exchange = ctx.cluster!.exchange.bind(ctx.cluster);
  // 1. The configfs cluster and its timeouts exist on every node before anyone marks a node up.
  let stepError: string | undefined;
  if (ctx.apply && p.start)
    stepError = await attempt(() => run(ctx.t, ctl(ctx, node, 'start'), 'ramster-ctl start', undefined, ctx.timeoutMs));
  const started = await exchange('started', stepError);
  throwIfAny(started, 'ramster-ctl start');

  // 2. Node-up on all nodes at once (they leave the barrier together), then the connections.
  if (ctx.apply) {
    stepError = undefined;
    if (p.nodeUp.length)
      stepError = await attempt(() =>
        run(ctx.t, ctl(ctx, node, `node-up ${p.nodeUp.join(' ')}`), 'ramster-ctl node-up', undefined, ctx.timeoutMs),
      );
    // A peer that marks itself up now (it rebooted) shows as not connected in the first read.
    if (!stepError && (p.nodeUp.length || p.unconnected.length))
      stepError = await attempt(() => waitForPeers(ctx, cluster, node, dmesgCommand, timeoutS));
  }
  const connected = await exchange('connected', stepError);
  throwIfAny(connected, 'node-up');

  // 3. The target only after it is up everywhere: the kernel ignores a target not yet up.
  if (ctx.apply && p.remotify !== undefined)
    await run(ctx.t, ctl(ctx, node, `remotify ${p.remotify}`), 'ramster-ctl remotify', undefined, ctx.timeoutMs);
}

async function attempt(f: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await f();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

function throwIfAny(results: Map<string, string | undefined>, what: string): void {
  const bad = [...results].filter(([, e]) => e);
  if (bad.length)
    throw new Error(
      `${what} failed, so the cluster is not brought up: ${bad.map(([h, e]) => `${h}: ${e}`).join('; ')}`,
    );
}

async function waitForPeers(
  ctx: StepContext,
  cluster: LegacyCluster,
  node: ClusterNode,
  dmesgCommand: string,
  timeoutS: number,
): Promise<void> {
  const peers = cluster.nodes.map((n) => n.number).filter((n) => n !== node.number);
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const { connected, gaveUp } = peerConnections(await readDmesg(ctx, dmesgCommand), peers);
    if (gaveUp.length)
      throw new Error(`the kernel gave up connecting to node ${gaveUp.join(', ')}; reboot all nodes together`);
    const missing = peers.filter((p) => !connected.includes(p));
    if (!missing.length) return;
    if (Date.now() >= deadline) {
      throw new Error(
        `node ${missing.join(', ')} did not connect within ${timeoutS} s (no "Accepted connection from node"/"Connected to node" line in dmesg). ` +
          'Check that every node ran node-up, that the cluster addresses and port are reachable, and the timeouts are equal (ramster-provision doctor)',
      );
    }
    ctx.log(`waiting for node ${missing.join(', ')} to connect`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
