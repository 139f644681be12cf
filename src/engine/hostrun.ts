import type { HostEntry, Inventory } from '../inventory/types.ts';
import { clusterOf, hostInCluster } from '../inventory/types.ts';
import { inventoryTemplateVars } from '../inventory/vars.ts';
import { evaluateCondition } from '../playbook/expr.ts';
import type { Play, Playbook, StepSpec } from '../playbook/types.ts';
import { stepTypes } from '../steps/registry.ts';
import type { Change, StepContext } from '../steps/types.ts';
import type { Facts } from '../transport/facts.ts';
import { UnreachableError, type Transport } from '../transport/types.ts';
import type { Barriers } from './barrier.ts';
import { writePending, type Pending } from './pending.ts';
import { prefetchPaths, stepArgs } from './prefetch.ts';
import type { HostLock } from './hostlock.ts';
import { HostTransport } from './hosttransport.ts';
import { openHost } from './preamble.ts';
import { emptyCounts, type HostResult } from './result.ts';
import { StepLog, stepFailure, type StepTicket } from './steplog.ts';
import { WriteFailed, WriteQueue } from './writebatch.ts';

import type { EngineEvents } from './events.ts';

export type { EngineEvents };

export interface HostRunContext {
  inv: Inventory;
  pb: Playbook;
  apply: boolean;
  /** Hosts of each play taking part in this run (after --limit). */
  playHosts: string[][];
  tags?: string[];
  skipTags?: string[];
  stepTimeoutMs?: number;
  lockWaitMs?: number;
  breakLock?: boolean;
  /** Variables over the inventory's and the plays' (RunOptions.vars). */
  vars?: Record<string, unknown>;
  barriers: Barriers;
  /** Per cluster, in memory for this run: ClusterPeers.share. */
  shares: Map<string, Map<string, unknown>>;
  /** Registers a secret with the run's redactor (StepContext.secret). */
  secret(value: string): void;
  events: EngineEvents;
  signal?: AbortSignal;
  open(h: HostEntry): Promise<Transport>;
}

export function tagSelected(step: StepSpec, tags?: string[], skip?: string[]): boolean {
  if (skip?.some((t) => step.tags.includes(t))) return false;
  if (!tags?.length || step.tags.includes('always')) return true;
  return tags.some((t) => step.tags.includes(t));
}

/** One host's run: what every play and step of it shares. */
interface HostRun {
  rc: HostRunContext;
  h: HostEntry;
  t: HostTransport;
  facts: Facts;
  pending: Pending;
  res: HostResult;
  log: StepLog;
  /** An apply's writes waiting to be sent (see HostTransport.flush). */
  writes?: WriteQueue;
}

/** Runs every play that selects this host, step by step, then its notified handlers. */
export async function runHost(rc: HostRunContext, name: string): Promise<HostResult> {
  const h = rc.inv.hosts.get(name)!;
  const started = Date.now();
  const res: HostResult = {
    host: name,
    target: `${h.address}:${h.port ?? 22}`,
    status: 'ok',
    steps: [],
    counts: emptyCounts(),
    roundTrips: 0,
    durationMs: 0,
  };
  rc.events.hostStart?.(name);
  const writes = rc.apply ? new WriteQueue() : undefined;
  const log = new StepLog(name, res, rc.events, writes);
  if (writes) writes.onApplied = () => log.pump();
  let t: Transport | undefined;
  let ht: HostTransport | undefined;
  let lock: HostLock | undefined;
  try {
    t = await rc.open(h);
    res.target = t.target;
    const prefetch = prefetchPaths(rc.inv, rc.pb, rc.playHosts, h, (s) => tagSelected(s, rc.tags, rc.skipTags));
    const pre = await openHost(t, { ...lockOptions(rc), log: log.log, prefetch });
    lock = pre.lock;
    ht = new HostTransport(t, { lock, snapshot: pre.snapshot, writes });
    res.facts = pre.facts;
    const run: HostRun = { rc, h, t: ht, facts: pre.facts, pending: pre.pending, res, log, writes };
    for (const [pi, play] of rc.pb.plays.entries()) {
      if (!rc.playHosts[pi].includes(name)) continue;
      if (!(await runPlay(run, play, pi))) break;
    }
  } catch (e) {
    hostFailed(res, log, e);
  } finally {
    rc.barriers.leave(name);
    await settleHost(ht, lock, res, log);
    res.roundTrips = t?.roundTrips ?? 0;
    await t?.close().catch(() => undefined);
  }
  if (res.status === 'ok' && res.counts.changed > 0) res.status = 'changed';
  // A host that failed outside any step (before its first one: become refused, facts, the
  // lock held elsewhere; or between steps) counts one failure, as an unreachable host counts
  // unreachable=1, so the recap line and the totals never say failed=0 for a failed host.
  if (res.status === 'failed' && res.counts.failed === 0) res.counts.failed = 1;
  res.durationMs = Date.now() - started;
  rc.events.hostEnd?.(name, res);
  return res;
}

function lockOptions(rc: HostRunContext) {
  return { apply: rc.apply, breakLock: rc.breakLock, lockWaitMs: rc.lockWaitMs };
}

/** Records why the host stopped; a failed write is reported at the step that queued it. */
function hostFailed(res: HostResult, log: StepLog, e: unknown): void {
  if (e instanceof WriteFailed) {
    log.failAt(e);
    return;
  }
  const unreachable = e instanceof UnreachableError;
  res.status = unreachable ? 'unreachable' : 'failed';
  if (unreachable) res.counts.unreachable = 1;
  res.error = e instanceof Error ? e.message : String(e);
}

/** Sends the writes still queued with the unlock riding on them (or unlocks alone), then
 *  shows the steps they held back; nothing more reaches a host that was lost. */
async function settleHost(
  ht: HostTransport | undefined,
  lock: HostLock | undefined,
  res: HostResult,
  log: StepLog,
): Promise<void> {
  if (res.status !== 'unreachable') await ht?.flush({ unlock: true }).catch((e: unknown) => hostFailed(res, log, e));
  log.abandon();
  if (res.status !== 'unreachable') await lock?.release().catch(() => undefined);
}

/** One play on one host: what its steps share. */
interface PlayRun {
  play: Play;
  pi: number;
  /** The host's cluster members taking part in this play. */
  members: string[];
  /** Play vars under the inventory's, and the facts. */
  vars(): Record<string, unknown>;
  notified: Set<string>;
  /** Changes planned earlier in this dry run: a later failure may only be their consequence. */
  planned: string[];
}

async function runPlay(run: HostRun, play: Play, pi: number): Promise<boolean> {
  const { rc, h, t, facts, pending } = run;
  const cluster = clusterOf(rc.inv, h.name);
  const p: PlayRun = {
    play,
    pi,
    members: cluster ? rc.playHosts[pi].filter((n) => cluster.nodes.some((c) => c.host === n)) : [],
    // Play vars are defaults: the inventory (all < groups < host) overrides them, and the run's own
    // (RunOptions.vars) override both.
    vars: () => ({ ...play.vars, ...inventoryTemplateVars(rc.inv, h.name), ...rc.vars, facts }),
    notified: new Set<string>(pending[play.name] ?? []),
    planned: [],
  };
  for (const spec of play.steps) {
    if (!tagSelected(spec, rc.tags, rc.skipTags)) continue;
    if ((await runStep(run, p, spec, false)) === 'stop') return false;
  }
  for (const spec of play.handlers) {
    if ((await runStep(run, p, spec, true)) === 'stop') return false;
  }
  if (rc.apply && p.notified.size) {
    delete pending[play.name];
    await writePending(t, pending);
  }
  return true;
}

/** Runs one step (or handler, when notified); 'stop' when it failed. The writes it queues are
 *  the step's: one of them failing later is reported here (StepLog.failAt). */
async function runStep(run: HostRun, p: PlayRun, spec: StepSpec, handler: boolean): Promise<'ok' | 'stop'> {
  const { rc, h, t, log, writes } = run;
  const cluster = clusterOf(rc.inv, h.name);
  if (spec.barrier === 'cluster' && cluster) {
    await t.flush(); // the other members may rely on what this host wrote before
    rc.events.barrierWait?.(h.name, spec);
    await rc.barriers.arrive(`${cluster.name}/${p.pi}/${handler ? 'h' : 's'}${spec.index}`, h.name, p.members);
  }
  if (handler && !p.notified.has(spec.name)) return 'ok';
  if (rc.signal?.aborted) throw new Interrupted();
  log.start(spec, handler);
  const base = { play: p.play.name, step: spec.name, type: spec.type, handler, loc: spec.loc };
  const ticket: StepTicket = { spec, base, started: Date.now() };
  if (writes) writes.owner = ticket;
  try {
    await checkStep(run, p, ticket);
    return 'ok';
  } catch (e) {
    if (e instanceof UnreachableError || e instanceof Interrupted || e instanceof WriteFailed) throw e;
    return stepFailed(run, p, ticket, e);
  } finally {
    if (writes) writes.owner = undefined;
  }
}

async function checkStep(run: HostRun, p: PlayRun, { spec, base, started }: StepTicket): Promise<void> {
  const { rc, t, log, pending } = run;
  const v = p.vars();
  if (spec.when !== undefined && !evaluateCondition(spec.when, v)) {
    log.finish({ ...base, status: 'skipped', message: `when: ${spec.when}`, durationMs: Date.now() - started });
    return;
  }
  const type = stepTypes.get(spec.type)!;
  const args = stepArgs(type, spec, v);
  const timeoutMs = spec.timeoutS ? spec.timeoutS * 1000 : rc.stepTimeoutMs;
  const change: Change = await type.checkApply(args, stepContext(run, p, spec, base.handler, v, timeoutMs));
  const status = change.skipped ? 'skipped' : change.action === 'none' ? 'ok' : 'changed';
  log.finish({ ...base, status, change, message: change.skipped, durationMs: Date.now() - started });
  if (status !== 'changed') return;
  p.planned.push(change.summary);
  if (!base.handler && spec.notify.length) {
    for (const n of spec.notify) p.notified.add(n);
    if (rc.apply) await writePending(t, { ...pending, [p.play.name]: [...p.notified] });
  }
}

/** A step that threw: failed (the host stops), or in a dry run after planned changes,
 *  conditional on them. */
function stepFailed(run: HostRun, p: PlayRun, { spec, base, started }: StepTicket, e: unknown): 'ok' | 'stop' {
  const { rc, res, log } = run;
  const message = stepFailure(spec, e);
  if (!rc.apply && p.planned.length) {
    const change: Change = {
      action: 'run',
      summary: spec.name,
      conditional: `could not be checked before the earlier pending changes are applied (${p.planned[p.planned.length - 1]}): ${message}`,
    };
    log.finish({ ...base, status: 'changed', change, durationMs: Date.now() - started });
    return 'ok';
  }
  log.finish({ ...base, status: 'failed', message, durationMs: Date.now() - started });
  res.status = 'failed';
  res.error = message;
  return 'stop';
}

/** What a step's checkApply gets. An exchange shares values, not the host's state: it does
 *  not send the queued writes (ramster_conf exchanges the checksum of the file it just queued);
 *  a step that needs the other members' writes applied waits at a `barrier: cluster`. */
function stepContext(
  run: HostRun,
  p: PlayRun,
  spec: StepSpec,
  handler: boolean,
  vars: Record<string, unknown>,
  timeoutMs?: number,
): StepContext {
  const { rc, h, t, facts } = run;
  const cluster = clusterOf(rc.inv, h.name);
  return {
    t: t.withTimeout(timeoutMs),
    facts,
    apply: rc.apply,
    host: h.name,
    vars,
    baseDir: rc.pb.dir,
    timeoutMs,
    log: run.log.log,
    inCluster: hostInCluster(rc.inv, h.name),
    secret: rc.secret,
    cluster: cluster && {
      members: p.members,
      share: clusterShare(rc, cluster.name),
      exchange: <T>(key: string, value: T) =>
        rc.barriers.exchange<T>(
          `${cluster.name}/${p.pi}/x/${handler ? 'h' : 's'}${spec.index}/${key}`,
          h.name,
          p.members,
          value,
        ),
    },
  };
}

function clusterShare(rc: HostRunContext, cluster: string): Map<string, unknown> {
  const share = rc.shares.get(cluster) ?? new Map<string, unknown>();
  rc.shares.set(cluster, share);
  return share;
}

export class Interrupted extends Error {
  constructor() {
    super('interrupted');
  }
}
