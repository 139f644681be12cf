import type { Cluster, ClusterNode } from '../inventory/types.ts';
import type { Facts } from '../transport/facts.ts';
import type { Transport } from '../transport/types.ts';
import type { SchemaFits } from './schema.ts';

export type Action = 'none' | 'create' | 'update' | 'delete' | 'run';

/** What a step found and (when applying) did. The same value describes the dry run and
 *  the real run, because both come out of the same `checkApply` call. */
export interface Change {
  action: Action;
  /** One line a person reads, e.g. "update /etc/ramster.conf (mode 0600 -> 0644)". */
  summary: string;
  /** Unified diff of the change, when it is about text. */
  diff?: string;
  /** Content is secret: the reporter prints neither diff nor values. */
  sensitive?: boolean;
  /** Dry run only: the outcome depends on an earlier planned change; says which. */
  conditional?: string;
  /** The change only takes effect after a reboot. */
  rebootRequired?: boolean;
  /** Step was skipped on purpose (e.g. not possible on this transport); says why. */
  skipped?: string;
}

export interface StepContext {
  t: Transport;
  facts: Facts;
  /** false: only read state and compute the change (dry run). */
  apply: boolean;
  host: string;
  vars: Record<string, unknown>;
  /** Directory relative `src` paths of template/file steps are resolved against. */
  baseDir: string;
  /** Progress line for long work (shown live on a TTY). */
  log(line: string): void;
  /** Milliseconds after which a single remote command is abandoned. */
  timeoutMs?: number;
  /** The host's cluster peers in this run; absent when the host is in no cluster. */
  cluster?: ClusterPeers;
  /** The host's cluster as its backend models it, and its own node; absent outside a cluster. */
  inCluster?: { cluster: Cluster; node: ClusterNode };
  /** Registers a value this step made or read as secret: from now on the run's output, logs,
   *  diffs, errors and --json show it masked (see redact.ts). Call it before the value can reach
   *  any message. */
  secret?(value: string): void;
}

export interface ClusterPeers {
  /** Inventory names of the cluster's hosts taking part in this play. */
  members: string[];
  /** Waits until every live member of the cluster has called exchange with the same key,
   *  then returns each member's value (members that failed meanwhile are missing). */
  exchange<T>(key: string, value: T): Promise<Map<string, T>>;
  /** In memory for this run only, one per cluster: what a member's step leaves for a later step
   *  of another member (e.g. a key the lender holds, for its borrower after a barrier). Never
   *  written anywhere; a member outside the run (--limit) leaves nothing. */
  share?: Map<string, unknown>;
}

/** What `reads` gets: the host and its variables, before any fact is known. */
export type ReadsContext = Pick<StepContext, 'host' | 'vars' | 'baseDir'>;

/** A step type: its name, JSON Schema of its args, and ONE function for check and apply. */
export interface StepType<A = Record<string, unknown>> {
  name: string;
  description: string;
  /** JSON Schema (2020-12) for `args`; embedded into schemas/playbook.schema.json. */
  argsSchema: Record<string, unknown>;
  /** Args the engine passes through without `{{ }}` interpolation (the step renders them). */
  rawArgs?: string[];
  /** Args that are shell command text: a value interpolated into them unquoted must be a
   *  plain word, else the author writes `{{ x | quote }}` (see render.ts). */
  shellArgs?: string[];
  checkApply(args: A, ctx: StepContext): Promise<Change>;
  /**
   * Optional: absolute paths checkApply will read with readFileState. The engine reads them all
   * in the host's first round trip (with the facts and the lock), and readFileState answers from
   * that snapshot until a command may have changed them: a converged host then costs no round
   * trip per step. Called before facts are gathered (`facts` is not in ctx.vars, args using it
   * make the engine skip the call): return every path the step might read — an extra path costs
   * a few bytes, a missing one is simply read when the step asks.
   */
  reads?(args: A, ctx: ReadsContext): string[];
}

export const noChange = (summary: string): Change => ({ action: 'none', summary });

/** A step type whose `argsSchema` fits its args type `A`: every property of one is in the other,
 *  required in both or in neither, and what the schema accepts is an `A` (see schema.ts). A
 *  mismatch is a compile error here. Curried, so `A` is given and the schema's literal type is
 *  inferred: `defineStep<MyArgs>()({ name, argsSchema: {...}, checkApply(args, ctx) {...} })`. */
export function defineStep<A>() {
  return <const S extends Record<string, unknown>>(
    s: StepType<A> & { argsSchema: S } & SchemaFits<A, S>,
  ): StepType<A> => s;
}
