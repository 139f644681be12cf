import { BATCH_RUNNER, batchScript, parseBatch, type BatchOutcome } from '../transport/batch.ts';
import type { DeferredWrite, ExecResult, Transport } from '../transport/types.ts';

/** A write of a batch failed (or the lock it needed could not be taken): `owner` is what the
 *  engine had set as the queue's owner when the write was queued (its step), `error` the error
 *  the write would have thrown run on its own. */
export class WriteFailed extends Error {
  constructor(
    readonly owner: unknown,
    readonly error: Error,
  ) {
    super(error.message);
    this.name = 'WriteFailed';
  }
}

interface QueuedWrite extends DeferredWrite {
  script: string;
  owner: unknown;
  timeoutMs?: number;
}

/**
 * The writes of one host waiting to be sent (see Transport.deferWrite): the engine's
 * HostTransport queues them and runs them all in one command before the next command that
 * needs an answer, each write still atomic on its own; the first that fails stops the rest.
 */
export class WriteQueue {
  /** Set by the engine: the step whose writes are queued now. */
  owner: unknown;
  /** Writes queued since the run began, and of them those applied. */
  queued = 0;
  applied = 0;
  /** Called after writes were applied (the engine shows the steps they held back). */
  onApplied?: () => void;
  private writes: QueuedWrite[] = [];

  get empty(): boolean {
    return this.writes.length === 0;
  }

  add(script: string, write: DeferredWrite, timeoutMs?: number): void {
    this.writes.push({ ...write, script, owner: this.owner, timeoutMs });
    this.queued++;
  }

  /** Drops every queued write: the first one's owner fails with `error` (the lock they need
   *  could not be taken). */
  drop(error: Error): WriteFailed {
    const first = this.writes[0];
    this.writes = [];
    return new WriteFailed(first?.owner, error);
  }

  /** Runs the queued writes, then `tail` (run even after a failed write), in one command on
   *  `host`. Resolves with whether the tail ran and the failure of a write, if one failed. */
  async run(host: Transport, tail?: string): Promise<{ tailRan: boolean; failure?: WriteFailed }> {
    const writes = this.writes.splice(0);
    const batch = batchScript(writes, tail);
    const r = await host.exec(BATCH_RUNNER, {
      stdin: batch.script,
      timeoutMs: totalTimeout(writes),
      touches: writes.flatMap((w) => w.touches),
    });
    const outcome = parseBatch(batch.read(r.stdout), writes.length);
    const failure = this.settle(writes, outcome, r);
    this.onApplied?.();
    return { tailRan: outcome.tailRan, failure };
  }

  /** Counts the writes applied up to the first that did not succeed, which fails: with its
   *  own result, or with the batch's when the batch was stopped (a timeout, an interrupt: the
   *  batch itself exits 0 otherwise), as it would have been alone. */
  private settle(writes: QueuedWrite[], outcome: BatchOutcome, batch: ExecResult): WriteFailed | undefined {
    for (const [i, w] of writes.entries()) {
      const own = outcome.ran[i];
      if (own?.code === 0) {
        this.applied++;
        continue;
      }
      return new WriteFailed(w.owner, w.failed(own && batch.code === 0 ? own : stopped(batch, own)));
    }
    return undefined;
  }
}

function stopped(batch: ExecResult, own?: ExecResult): ExecResult {
  const why = batch.stderr || (batch.code === 0 ? 'the batch of writes ended before this one' : '');
  return { code: batch.code || 1, stdout: '', stderr: [own?.stderr, why].filter(Boolean).join('\n') };
}

/** Each write keeps its step's time limit: the batch gets their sum (none if one has none). */
function totalTimeout(writes: QueuedWrite[]): number | undefined {
  let total = 0;
  for (const w of writes) {
    if (w.timeoutMs === undefined) return undefined;
    total += w.timeoutMs;
  }
  return total;
}
