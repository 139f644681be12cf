import { InputError } from '../input/diagnostics.ts';
import type { StepSpec } from '../playbook/types.ts';
import type { EngineEvents } from './events.ts';
import type { HostResult, StepResult } from './result.ts';
import type { WriteFailed } from './writebatch.ts';

/** A step that runs: what its result is made of, whenever it ends. */
export interface StepTicket {
  spec: StepSpec;
  base: Pick<StepResult, 'play' | 'step' | 'type' | 'handler' | 'loc'>;
  started: number;
}

/** The message a step fails with: the error's, after the step's place in the playbook. */
export function stepFailure(spec: StepSpec, e: unknown): string {
  const where = `${spec.loc.file}:${spec.loc.line}:${spec.loc.col}`;
  const text = e instanceof Error ? e.message : String(e);
  return text.startsWith(where) || e instanceof InputError ? text : `${where}: ${text}`;
}

/** How far the host's write queue is (engine/writebatch.ts). */
interface WriteCounts {
  readonly queued: number;
  readonly applied: number;
}

interface Entry {
  /** Writes queued before it: it is shown once they are applied. */
  after: number;
  show(): void;
}

/**
 * A host's step results and events, in the order its steps ran. While a step's writes wait
 * in the host's write queue, its result and everything after it are held back: a write that
 * fails is then still reported at its own step, and the steps after it never ran, as when
 * each write was sent on its own.
 */
export class StepLog {
  private held: Entry[] = [];

  constructor(
    private readonly host: string,
    private readonly res: HostResult,
    private readonly events: EngineEvents,
    private readonly writes?: WriteCounts,
  ) {}

  start(spec: StepSpec, handler: boolean): void {
    this.add(() => this.events.stepStart?.(this.host, spec, handler));
  }

  readonly log = (line: string): void => this.add(() => this.events.log?.(this.host, line));

  finish(r: StepResult): void {
    if (r.change?.sensitive) delete r.change.diff;
    this.add(() => this.record(r));
  }

  /** Shows what no queued write holds back any more. */
  pump(): void {
    const applied = this.writes?.applied ?? 0;
    while (this.held.length && this.held[0].after <= applied) this.held.shift()!.show();
  }

  /** A write failed: what came before it is shown, its step (`owner`, or none for the
   *  engine's own) fails with its error, and what came after it is dropped. */
  failAt(e: WriteFailed): void {
    const ticket = e.owner as StepTicket | undefined;
    const message = ticket ? stepFailure(ticket.spec, e.error) : e.error.message;
    this.abandon();
    if (ticket) this.record({ ...ticket.base, status: 'failed', message, durationMs: Date.now() - ticket.started });
    this.res.status = 'failed';
    this.res.error = message;
  }

  /** Shows what was confirmed and drops the rest (its writes never will be). */
  abandon(): void {
    this.pump();
    this.held = [];
  }

  private add(show: () => void): void {
    this.held.push({ after: this.writes?.queued ?? 0, show });
    this.pump();
  }

  private record(r: StepResult): void {
    this.res.steps.push(r);
    this.res.counts[r.status]++;
    this.events.stepEnd?.(this.host, r);
  }
}
