/** Progress reporting for the lab's long parts: a line at start, a tick while it runs, and the
 *  elapsed time at the end. */
export type LabLog = (line: string) => void;

export interface LabProgressEvent {
  task: string;
  state: 'start' | 'update' | 'done' | 'failed';
  elapsedMs: number;
  message?: string;
}

export type LabProgress = (event: LabProgressEvent) => void;

export interface Reporter {
  log: LabLog;
  progress?: LabProgress;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Runs `fn` as a named long part; `update` lets it report intermediate messages. */
export async function timed<T>(
  r: Reporter,
  task: string,
  fn: (update: (message: string) => void) => Promise<T>,
  tickMs = 15_000,
): Promise<T> {
  const start = Date.now();
  const elapsed = () => Date.now() - start;
  r.log(`${task} …`);
  r.progress?.({ task, state: 'start', elapsedMs: 0 });
  let last = '';
  const update = (message: string) => {
    last = message;
    r.progress?.({ task, state: 'update', elapsedMs: elapsed(), message });
  };
  const ticker = setInterval(() => {
    r.log(`${task}: ${seconds(elapsed())}${last ? ` (${last})` : ''}`);
  }, tickMs);
  ticker.unref();
  try {
    const result = await fn(update);
    r.log(`${task}: done in ${seconds(elapsed())}`);
    r.progress?.({ task, state: 'done', elapsedMs: elapsed() });
    return result;
  } catch (e) {
    r.log(`${task}: failed after ${seconds(elapsed())}`);
    r.progress?.({ task, state: 'failed', elapsedMs: elapsed(), message: (e as Error).message });
    throw e;
  } finally {
    clearInterval(ticker);
  }
}
