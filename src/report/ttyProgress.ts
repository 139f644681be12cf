import { Listr, PRESET_TIMER } from 'listr2';
import type { HostResult } from '../engine/result.ts';
import type { Progress } from './progress.ts';

/** One live line per host on a TTY: current step, elapsed time, last progress line. */
export function ttyProgress(hosts: string[]): Progress {
  const waiters = new Map<string, { resolve: (r: HostResult) => void; promise: Promise<HostResult> }>();
  const setters = new Map<string, { title: (s: string) => void; output: (s: string) => void }>();
  for (const h of hosts) {
    let resolve!: (r: HostResult) => void;
    const promise = new Promise<HostResult>((r) => (resolve = r));
    waiters.set(h, { resolve, promise });
  }
  const list = new Listr(
    hosts.map((h) => ({
      title: `${h}: connecting`,
      task: async (_ctx: unknown, task: { title: string; output: string }) => {
        setters.set(h, { title: (s) => (task.title = s), output: (s) => (task.output = s) });
        const r = await waiters.get(h)!.promise;
        const c = r.counts;
        task.title = `${h}: ${r.status}  ok=${c.ok} changed=${c.changed} failed=${c.failed} skipped=${c.skipped}${r.error ? `  ${r.error.split('\n')[0]}` : ''}`;
        if (r.status === 'failed' || r.status === 'unreachable') throw new Error(task.title);
      },
      rendererOptions: { persistentOutput: false, timer: PRESET_TIMER },
    })),
    { concurrent: true, exitOnError: false, rendererOptions: { collapseErrors: true, showErrorMessage: false } },
  );
  const running = list.run().catch(() => undefined);
  const counts = new Map<string, number>();
  return {
    events: {
      stepStart: (host, step) => {
        counts.set(host, (counts.get(host) ?? 0) + 1);
        setters.get(host)?.title(`${host}: [${counts.get(host)}] ${step.name}`);
      },
      barrierWait: (host, step) => setters.get(host)?.title(`${host}: waiting for the cluster before '${step.name}'`),
      log: (host, line) => setters.get(host)?.output(line),
      hostEnd: (host, r) => waiters.get(host)?.resolve(r),
    },
    finish: async () => {
      await running;
    },
  };
}
