import type { EngineEvents } from '../engine/hostrun.ts';
import type { Style } from './style.ts';
import { stepLine } from './summary.ts';

export interface Progress {
  events: EngineEvents;
  /** Resolves once the progress display has drawn its final state. */
  finish(): Promise<void>;
}

/** Plain lines (no escape codes) for logs, pipes and CI. */
export function plainProgress(out: NodeJS.WritableStream, st: Style, verbose: boolean): Progress {
  const w = (s: string) => out.write(s + '\n');
  return {
    events: {
      stepEnd: (host, r) => {
        if (verbose || r.status !== 'ok') w(stepLine(host, r, st));
      },
      hostEnd: (host, r) => {
        if (r.status === 'unreachable') w(`${host}  ${st.red('unreachable')}  ${r.error}`);
        else if (r.error && !r.steps.some((s) => s.status === 'failed')) w(`${host}  ${st.red('failed')}  ${r.error}`);
      },
      log: (host, line) => w(st.dim(`${host}  ${line}`)),
    },
    finish: async () => undefined,
  };
}
