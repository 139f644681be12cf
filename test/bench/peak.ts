import { readdirSync, readFileSync } from 'node:fs';

/** The most memory and file descriptors a command's process tree held at once. */
export interface Peak {
  /** Memory of the whole tree (Ansible: its forked workers and ssh masters too) in MiB, as
   *  proportional set size: resident pages, those shared by n processes counted 1/n. */
  memoryMb: number;
  /** Open file descriptors of the whole tree. */
  fds: number;
}

function children(): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      m.set(ppid, [...(m.get(ppid) ?? []), Number(name)]);
    } catch {
      /* ended while listing */
    }
  }
  return m;
}

function tree(root: number): number[] {
  const kids = children();
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(kids.get(out[i]) ?? []));
  return out;
}

/** Proportional set size of a process in KiB (its resident pages, each page shared by n
 *  processes counted 1/n), 0 once it is gone: sums over forked workers without counting the
 *  pages they share again for every worker. */
function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** Samples a process tree every `intervalMs` until stopped: the largest sums seen (a worker
 *  that lives shorter than one interval can be missed). */
export function watchPeak(pid: number, intervalMs = 200): { stop(): Peak } {
  let pss = 0;
  let fds = 0;
  const sample = () => {
    const pids = tree(pid);
    pss = Math.max(
      pss,
      pids.reduce((s, p) => s + pssKb(p), 0),
    );
    fds = Math.max(
      fds,
      pids.reduce((s, p) => s + fdCount(p), 0),
    );
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return { memoryMb: pss / 1024, fds };
    },
  };
}
