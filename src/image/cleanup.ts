import { existsSync, readFileSync, realpathSync, rmSync } from 'node:fs';

/** Mount points at or below `dir` in this process's mount namespace. */
export function mountsUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const root = realpathSync(dir);
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((mp): mp is string => !!mp)
    .map((mp) => mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((mp) => mp === root || mp.startsWith(`${root}/`));
}

/**
 * `rm -rf dir`, refused while anything is mounted below it: a recursive delete must never walk
 * into a bind-mounted /dev or /proc (mmdebstrap mounts those in the host namespace and leaves
 * them behind if it is killed). Returns what blocked the removal.
 */
export function removeTree(dir: string): string[] {
  const mounted = mountsUnder(dir);
  if (mounted.length) return mounted;
  rmSync(dir, { recursive: true, force: true });
  return [];
}

/** removeTree for a cleanup path: says what was left behind instead of throwing. */
export function removeTreeOrWarn(dir: string, log: (line: string) => void): void {
  const blocked = removeTree(dir);
  if (blocked.length) {
    log(`image: left ${dir} in place: ${blocked.join(', ')} still mounted there; unmount (umount -R) then remove it`);
  }
}
