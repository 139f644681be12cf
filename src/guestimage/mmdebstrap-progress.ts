/** What a `mmdebstrap --verbose` run is doing, from its output lines: its phase ("I: " lines),
 *  packages fetched (apt's "Get:" lines of .debs, with their sizes), unpacked and set up (dpkg's
 *  own lines) out of what apt said it would install ("N newly installed", one apt run per phase).
 *  Lets a cold lab build say more than one line in twenty minutes. */
export interface MmdebstrapProgress {
  phase: string;
  fetched: number;
  fetchedBytes: number;
  unpacked: number;
  setUp: number;
  total?: number;
}

const UNITS: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 };
// Get:12 <uri> <suite>/<component> <arch> <package> <arch> <version> [2759 kB]; index files have fewer fields.
const GET = /^Get:\d+ \S+ \S+ \S+ \S+ \S+ \S+ \[([\d.,]+) (B|kB|MB|GB)\]$/;

export function newMmdebstrapProgress(): MmdebstrapProgress {
  return { phase: 'starting', fetched: 0, fetchedBytes: 0, unpacked: 0, setUp: 0 };
}

/** Folds one output line in; returns true when the line changed what `describe` says. */
export function mmdebstrapLine(p: MmdebstrapProgress, line: string): boolean {
  const get = GET.exec(line);
  const planned = /^\d+ upgraded, (\d+) newly installed/.exec(line); // one apt run per phase
  if (line.startsWith('I: ')) p.phase = line.slice(3).replace(/\.\.\.$/, '');
  else if (get) {
    p.fetched++;
    p.fetchedBytes += Number(get[1].replace(/,/g, '')) * UNITS[get[2]];
  } else if (line.startsWith('Unpacking ')) p.unpacked++;
  else if (line.startsWith('Setting up ')) p.setUp++;
  else if (planned) p.total = (p.total ?? 0) + Number(planned[1]);
  else return false;
  return true;
}

export function describeMmdebstrap(p: MmdebstrapProgress): string {
  const of = p.total ? ` of ${p.total}` : '';
  return `${p.phase}: ${p.fetched} packages fetched (${(p.fetchedBytes / 1e6).toFixed(1)} MB), ${p.unpacked} unpacked, ${p.setUp} set up${of}`;
}
