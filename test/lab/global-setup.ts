/** Prints the whole lab suite's wall-clock time and every timing the files recorded in this run. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../src/guestimage/paths.ts';
import { recordTimings } from './helpers.ts';

export default function setup(): () => void {
  const start = Date.now();
  const since = new Date(start).toISOString();
  return () => {
    const total = Date.now() - start;
    const file = join(REPO_ROOT, 'test', '.tmp', 'lab-timings.json');
    const entries = existsSync(file)
      ? (
          JSON.parse(readFileSync(file, 'utf8')) as {
            suite: string;
            at: string;
            seconds: Record<string, number | null>;
          }[]
        ).filter((e) => e.at >= since)
      : [];
    const lines = [`lab suite: ${(total / 1000).toFixed(1)} s in total (budget 1800 s)`];
    for (const e of entries) {
      lines.push(`  ${e.suite}`);
      for (const [k, v] of Object.entries(e.seconds))
        lines.push(`    ${k.padEnd(40)} ${v === null ? '-' : `${v.toFixed(1)} s`}`);
    }
    console.log(lines.join('\n'));
    recordTimings('lab-suite', { total });
  };
}
