import pLimit from 'p-limit';
import type { HostEntry, Inventory } from '../inventory/types.ts';
import type { Playbook } from '../playbook/types.ts';
import type { Transport } from '../transport/types.ts';
import { Barriers } from './barrier.ts';
import { openTransport, type ConnectOptions } from './connect.ts';
import { runHost, type EngineEvents } from './hostrun.ts';
import { matchHosts } from './patterns.ts';
import { emptyCounts, type RunResult } from './result.ts';

export interface RunOptions {
  apply: boolean;
  forks: number;
  limit?: string;
  tags?: string[];
  skipTags?: string[];
  stepTimeoutMs?: number;
  /** How long to wait for another run's lock on a host (default: fail at once). */
  lockWaitMs?: number;
  /** Take over host locks unconditionally (the user says their run is dead). */
  breakLock?: boolean;
  connect: ConnectOptions;
  events?: EngineEvents;
  signal?: AbortSignal;
  /** Second interrupt: stop the commands in flight on every host (their locks are still released). */
  hardSignal?: AbortSignal;
  /** Told every secret a step makes or reads while running (StepContext.secret): the caller's
   *  redactor hides it from then on. */
  secret?: (value: string) => void;
  /** Variables over the inventory's and the plays' (a command's own, e.g. drain's lenders). */
  vars?: Record<string, unknown>;
  /** Replaces how transports are opened (image builds pass a chroot). */
  open?: (h: HostEntry) => Promise<Transport>;
}

/** Hosts selected by --limit (a host pattern), or all. */
export function limitedHosts(inv: Inventory, limit?: string): string[] {
  return limit ? matchHosts(inv, limit) : [...inv.hosts.keys()];
}

/** Hosts each play runs on, and every host the run touches, in inventory order. */
export function selectHosts(inv: Inventory, pb: Playbook, limit?: string): { playHosts: string[][]; hosts: string[] } {
  const limited = new Set(limitedHosts(inv, limit));
  const playHosts = pb.plays.map((p) => matchHosts(inv, p.hosts).filter((h) => limited.has(h)));
  return { playHosts, hosts: [...inv.hosts.keys()].filter((h) => playHosts.some((ph) => ph.includes(h))) };
}

/** A barrier needs every host of a cluster running at once, so forks can never be below that. */
function forksFor(inv: Inventory, hosts: string[], asked: number, events: EngineEvents): number {
  const largestCluster = Math.max(0, ...inv.clusters.map((c) => c.nodes.filter((n) => hosts.includes(n.host)).length));
  const forks = Math.max(asked, largestCluster);
  if (forks > asked)
    events.log?.(
      '*',
      `forks raised from ${asked} to ${forks}: cluster barriers need all ${largestCluster} nodes of a cluster at once`,
    );
  return forks;
}

/** The hosts' counts added up. */
function totalsOf(results: RunResult['hosts']): RunResult['totals'] {
  const totals = { ...emptyCounts(), hosts: results.length };
  for (const r of results) for (const k of Object.keys(r.counts) as (keyof typeof r.counts)[]) totals[k] += r.counts[k];
  return totals;
}

/** Runs a playbook on every selected host in parallel (bounded by forks); hosts wait for
 *  each other only at cluster barriers. */
export async function runPlaybook(inv: Inventory, pb: Playbook, opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const { playHosts, hosts } = selectHosts(inv, pb, opts.limit);
  const events = opts.events ?? {};
  const limit = pLimit(forksFor(inv, hosts, opts.forks, events));
  const barriers = new Barriers();
  const shares = new Map<string, Map<string, unknown>>();
  const secret = opts.secret ?? (() => {});
  const open = opts.open ?? ((h: HostEntry) => openTransport(h, opts.connect));
  const opened = new Set<Transport>();
  const interruptAll = () => {
    for (const t of opened) t.interrupt?.();
  };
  opts.hardSignal?.addEventListener('abort', interruptAll, { once: true });
  const track = async (h: HostEntry) => {
    const t = await open(h);
    opened.add(t);
    if (opts.hardSignal?.aborted) t.interrupt?.();
    return t;
  };
  const results = await Promise.all(
    hosts.map((name) =>
      limit(() =>
        runHost(
          {
            inv,
            pb,
            apply: opts.apply,
            playHosts,
            tags: opts.tags,
            skipTags: opts.skipTags,
            stepTimeoutMs: opts.stepTimeoutMs,
            lockWaitMs: opts.lockWaitMs,
            breakLock: opts.breakLock,
            vars: opts.vars,
            barriers,
            shares,
            secret,
            events,
            signal: opts.signal,
            open: track,
          },
          name,
        ),
      ),
    ),
  );
  opts.hardSignal?.removeEventListener('abort', interruptAll);
  return {
    schemaVersion: 1,
    mode: opts.apply ? 'apply' : 'plan',
    hosts: results,
    totals: totalsOf(results),
    durationMs: Date.now() - started,
    interrupted: opts.signal?.aborted || undefined,
  };
}
