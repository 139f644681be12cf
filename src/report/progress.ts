import type { EngineEvents } from '../engine/hostrun.ts';
import type { Style } from './style.ts';
import { fmtMs, stepLine } from './summary.ts';

export interface Progress {
  events: EngineEvents;
  /** Resolves once the progress display has drawn its final state. */
  finish(): Promise<void>;
}

/** When a host's current activity (a step, a barrier wait, connecting) gets a line of its own
 *  on a non-TTY: once it has run `announceAfterMs`, then every `everyMs`, so a CI log shows that
 *  a long step (a kernel build, the cluster reboot) is alive and for how long. */
export interface Liveness {
  announceAfterMs: number;
  everyMs: number;
}

export const LIVENESS: Liveness = { announceAfterMs: 10_000, everyMs: 30_000 };

interface Activity {
  what: string;
  since: number;
  /** When its last "running" line was written; undefined before the first. */
  shown?: number;
  last?: string;
}

/** Plain lines (no escape codes) for logs, pipes and CI. */
export function plainProgress(
  out: NodeJS.WritableStream,
  st: Style,
  verbose: boolean,
  live: Liveness = LIVENESS,
): Progress {
  const w = (s: string) => out.write(`${s}\n`);
  const current = new Map<string, Activity>();
  const counts = new Map<string, number>();

  const begin = (host: string, what: string) => {
    end(host);
    current.set(host, { what, since: Date.now() });
  };
  /** Ends the host's activity; one that had "running" lines gets its total time. */
  const end = (host: string, line?: string) => {
    const a = current.get(host);
    current.delete(host);
    if (line !== undefined) w(a?.shown !== undefined ? `${line}  ${st.dim(`(${fmtMs(Date.now() - a.since)})`)}` : line);
    else if (a?.shown !== undefined) w(st.dim(`${host}  done     ${a.what} after ${fmtMs(Date.now() - a.since)}`));
  };
  const tick = () => {
    const now = Date.now();
    for (const [host, a] of current) {
      const due = a.shown === undefined ? a.since + live.announceAfterMs : a.shown + live.everyMs;
      if (now < due) continue;
      a.shown = now;
      w(`${host}  running  ${a.what}: ${fmtMs(now - a.since)}${a.last ? st.dim(` (last: ${a.last})`) : ''}`);
    }
  };
  const timer = setInterval(tick, Math.min(1000, live.announceAfterMs, live.everyMs));
  timer.unref();

  return {
    events: {
      hostStart: (host) => begin(host, 'connecting (facts, lock)'),
      barrierWait: (host, step) => begin(host, `waiting for the cluster before '${step.name}'`),
      stepStart: (host, step, handler) => {
        counts.set(host, (counts.get(host) ?? 0) + 1);
        begin(host, `[${counts.get(host)}] ${handler ? 'handler ' : ''}${step.name}`);
      },
      stepEnd: (host, r) => {
        const shown = current.get(host)?.shown !== undefined;
        end(host, verbose || r.status !== 'ok' || shown ? stepLine(host, r, st) : undefined);
      },
      hostEnd: (host, r) => {
        end(host);
        if (r.status === 'unreachable') w(`${host}  ${st.red('unreachable')}  ${r.error}`);
        else if (r.error && !r.steps.some((s) => s.status === 'failed')) w(`${host}  ${st.red('failed')}  ${r.error}`);
      },
      log: (host, line) => {
        const a = current.get(host);
        if (a) a.last = line;
        w(st.dim(`${host}  ${line}`));
      },
    },
    finish: async () => clearInterval(timer),
  };
}
