import { InputError } from '../input/diagnostics.ts';
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
import { emptyCounts, type HostResult, type StepResult } from './result.ts';

export interface EngineEvents {
  hostStart?(host: string): void;
  stepStart?(host: string, step: StepSpec, handler: boolean): void;
  /** The host waits at the cluster barrier in front of `step` until every member arrives. */
  barrierWait?(host: string, step: StepSpec): void;
  stepEnd?(host: string, result: StepResult): void;
  hostEnd?(host: string, result: HostResult): void;
  log?(host: string, line: string): void;
}

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
  barriers: Barriers;
  events: EngineEvents;
  signal?: AbortSignal;
  open(h: HostEntry): Promise<Transport>;
}

export function tagSelected(step: StepSpec, tags?: string[], skip?: string[]): boolean {
  if (skip?.some((t) => step.tags.includes(t))) return false;
  if (!tags?.length || step.tags.includes('always')) return true;
  return tags.some((t) => step.tags.includes(t));
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
  let t: Transport | undefined;
  let lock: HostLock | undefined;
  try {
    t = await rc.open(h);
    res.target = t.target;
    const prefetch = prefetchPaths(rc.inv, rc.pb, rc.playHosts, h, (s) => tagSelected(s, rc.tags, rc.skipTags));
    const pre = await openHost(t, {
      apply: rc.apply,
      breakLock: rc.breakLock,
      lockWaitMs: rc.lockWaitMs,
      log: (l) => rc.events.log?.(name, l),
      prefetch,
    });
    lock = pre.lock;
    const ht = new HostTransport(t, { lock, snapshot: pre.snapshot });
    const { facts, pending } = pre;
    res.facts = facts;
    for (const [pi, play] of rc.pb.plays.entries()) {
      if (!rc.playHosts[pi].includes(name)) continue;
      const ok = await runPlay(rc, h, ht, facts, pending, play, pi, res);
      if (!ok) break;
    }
  } catch (e) {
    if (e instanceof UnreachableError) {
      res.status = 'unreachable';
      res.counts.unreachable = 1;
    } else res.status = 'failed';
    res.error = e instanceof Error ? e.message : String(e);
  } finally {
    rc.barriers.leave(name);
    if (res.status !== 'unreachable') await lock?.release().catch(() => undefined);
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

async function runPlay(
  rc: HostRunContext,
  h: HostEntry,
  t: HostTransport,
  facts: Facts,
  pending: Pending,
  play: Play,
  pi: number,
  res: HostResult,
): Promise<boolean> {
  const cluster = clusterOf(rc.inv, h.name);
  const members = cluster ? rc.playHosts[pi].filter((n) => cluster.nodes.some((c) => c.host === n)) : [];
  // Play vars are defaults: the inventory (all < groups < host) overrides them.
  const vars = () => ({ ...play.vars, ...inventoryTemplateVars(rc.inv, h.name), facts });
  const notified = new Set<string>(pending[play.name] ?? []);
  /** Changes planned earlier in this dry run: a later failure may only be their consequence. */
  const planned: string[] = [];

  const runOne = async (spec: StepSpec, handler: boolean): Promise<'ok' | 'stop'> => {
    if (spec.barrier === 'cluster' && cluster) {
      rc.events.barrierWait?.(h.name, spec);
      await rc.barriers.arrive(`${cluster.name}/${pi}/${handler ? 'h' : 's'}${spec.index}`, h.name, members);
    }
    if (handler && !notified.has(spec.name)) return 'ok';
    if (rc.signal?.aborted) throw new Interrupted();
    rc.events.stepStart?.(h.name, spec, handler);
    const started = Date.now();
    const base = { play: play.name, step: spec.name, type: spec.type, handler, loc: spec.loc };
    const finish = (r: StepResult) => {
      if (r.change?.sensitive) delete r.change.diff;
      res.steps.push(r);
      res.counts[r.status]++;
      rc.events.stepEnd?.(h.name, r);
    };
    try {
      const v = vars();
      if (spec.when !== undefined && !evaluateCondition(spec.when, v)) {
        finish({ ...base, status: 'skipped', message: `when: ${spec.when}`, durationMs: Date.now() - started });
        return 'ok';
      }
      const type = stepTypes.get(spec.type)!;
      const args = stepArgs(type, spec, v);
      const timeoutMs = spec.timeoutS ? spec.timeoutS * 1000 : rc.stepTimeoutMs;
      const ctx: StepContext = {
        t: t.withTimeout(timeoutMs),
        facts,
        apply: rc.apply,
        host: h.name,
        vars: v,
        baseDir: rc.pb.dir,
        timeoutMs,
        log: (line) => rc.events.log?.(h.name, line),
        inCluster: hostInCluster(rc.inv, h.name),
        cluster: cluster && {
          members,
          exchange: <T>(key: string, value: T) =>
            rc.barriers.exchange<T>(
              `${cluster.name}/${pi}/x/${handler ? 'h' : 's'}${spec.index}/${key}`,
              h.name,
              members,
              value,
            ),
        },
      };
      const change: Change = await type.checkApply(args, ctx);
      const status = change.skipped ? 'skipped' : change.action === 'none' ? 'ok' : 'changed';
      finish({ ...base, status, change, message: change.skipped, durationMs: Date.now() - started });
      if (status === 'changed') {
        planned.push(change.summary);
        if (!handler && spec.notify.length) {
          for (const n of spec.notify) notified.add(n);
          if (rc.apply) await writePending(t, { ...pending, [play.name]: [...notified] });
        }
      }
      return 'ok';
    } catch (e) {
      if (e instanceof UnreachableError || e instanceof Interrupted) throw e;
      const where = `${spec.loc.file}:${spec.loc.line}:${spec.loc.col}`;
      const text = e instanceof Error ? e.message : String(e);
      const message = text.startsWith(where) || e instanceof InputError ? text : `${where}: ${text}`;
      if (!rc.apply && planned.length) {
        const change: Change = {
          action: 'run',
          summary: spec.name,
          conditional: `could not be checked before the earlier pending changes are applied (${planned[planned.length - 1]}): ${message}`,
        };
        finish({ ...base, status: 'changed', change, durationMs: Date.now() - started });
        return 'ok';
      }
      finish({ ...base, status: 'failed', message, durationMs: Date.now() - started });
      res.status = 'failed';
      res.error = message;
      return 'stop';
    }
  };

  for (const spec of play.steps) {
    if (!tagSelected(spec, rc.tags, rc.skipTags)) continue;
    if ((await runOne(spec, false)) === 'stop') return false;
  }
  for (const spec of play.handlers) {
    if ((await runOne(spec, true)) === 'stop') return false;
  }
  if (rc.apply && notified.size) {
    delete pending[play.name];
    await writePending(t, pending);
  }
  return true;
}

export class Interrupted extends Error {
  constructor() {
    super('interrupted');
  }
}
