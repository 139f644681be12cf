/** Per-case wall-clock timings of a lab suite, printed and appended to test/.tmp/lab-timings.json. */
import { recordTimings } from './helpers.ts';

export class CaseTimings {
  readonly ms: Record<string, number | undefined> = {};
  private readonly started = Date.now();

  constructor(private readonly suite: string) {}

  /** Wraps a test body so its duration is recorded under `name`, pass or fail. */
  timed(name: string, fn: () => Promise<void>): () => Promise<void> {
    return async () => {
      const start = Date.now();
      try {
        await fn();
      } finally {
        this.ms[name] = Date.now() - start;
        console.log(`[${this.suite}] ${name}: ${((Date.now() - start) / 1000).toFixed(1)} s`);
      }
    };
  }

  set(name: string, ms: number | undefined): void {
    this.ms[name] = ms;
  }

  /** Records every case and the file's total since construction. */
  record(): void {
    recordTimings(this.suite, { ...this.ms, fileTotal: Date.now() - this.started });
  }
}
