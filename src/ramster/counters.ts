/**
 * Counters read with `grep -H . /sys/kernel/debug/ramster/* /sys/kernel/debug/zcache/* ...`
 * (the HOW-TO's section D; `-H` so a single file still carries its name).
 */

/** Directory name (ramster, zcache, frontswap, cleancache, or the sysfs `ramster`) -> counter -> value. */
export type Counters = Record<string, Record<string, number | string>>;

export interface ParsedCounters {
  counters: Counters;
  /** Lines that were not `path:value`. */
  unparsed: string[];
}

export function parseCounters(grepOutput: string): ParsedCounters {
  const counters: Counters = {};
  const unparsed: string[] = [];
  for (const line of grepOutput.split('\n')) {
    if (line.trim() === '') continue;
    const m = /^(\/[^:]*\/)?([^/:]+)\/([^/:]+):(.*)$/.exec(line);
    if (!m) {
      unparsed.push(line);
      continue;
    }
    const [, , group, name, raw] = m;
    const value = raw.trim();
    counters[group] ??= {};
    counters[group][name] = /^-?\d+$/.test(value) ? Number(value) : value;
  }
  return { counters, unparsed };
}

const num = (c: Counters, group: string, name: string): number => {
  const v = c[group]?.[name];
  return typeof v === 'number' ? v : 0;
};

export interface RemoteActivity {
  /** On the memory server: pages this node holds for others (foreign_*). */
  foreignPages: number;
  /** On a borrowing node: pages sent away (*_pages_remoted). */
  pagesRemoted: number;
  /** On a borrowing node: successful gets from the remote node (disk I/O avoided). */
  remoteGets: number;
  /** Failures of remotify/get. */
  failures: number;
}

/** The HOW-TO's "is it working?" numbers, from the ramster debugfs directory. */
export function remoteActivity(c: Counters): RemoteActivity {
  const r = (n: string) => num(c, 'ramster', n);
  return {
    foreignPages: r('foreign_eph_pages') + r('foreign_pers_pages'),
    pagesRemoted: r('eph_pages_remoted') + r('pers_pages_remoted'),
    remoteGets: r('remote_eph_pages_succ_get') + r('remote_pers_pages_succ_get'),
    failures:
      r('eph_pages_remote_failed') +
      r('pers_pages_remote_failed') +
      r('remote_eph_pages_unsucc_get') +
      r('remote_pers_pages_unsucc_get'),
  };
}

/** Counter increases from `before` to `after` (numbers only; new counters count from 0). */
export function counterDelta(before: Counters, after: Counters): Counters {
  const out: Counters = {};
  for (const [group, values] of Object.entries(after)) {
    for (const [name, v] of Object.entries(values)) {
      if (typeof v !== 'number') continue;
      out[group] ??= {};
      out[group][name] = v - num(before, group, name);
    }
  }
  return out;
}
