/**
 * Lender maintenance (`ramster-provision drain`): before a lender reboots, each of its borrowers
 * brings its pages home (swapoff of whatever swap device sits on that lender's namespace, or,
 * with `replicas: 2`, its RAID1 leg failed and removed), then disconnects; the lender then stops
 * lending to it. What `ramster-modern drain-check <lender>` reports is parsed and judged here.
 */
import { bodyLines, type Frames } from '../frame.ts';
import { type Backend, borrowersOf, type ClusterShape } from '../cluster/model.ts';
import { NQN_PREFIX } from './plan.ts';

/** What draining one lender means on one borrower, as `ramster-modern drain-check` reads it. */
export interface DrainCheck {
  lender: number;
  /** Our subsystems on that lender and their block device here (undefined: none appeared). */
  namespaces: { subsystem: string; device?: string }[];
  controllers: { name: string; subsystem: string; state: string }[];
  /** md arrays a namespace of that lender is a leg of. */
  mirrors: { md: string; leg: string; degraded: number; syncAction: string; raidDisks: number }[];
  /** Swap devices of /proc/swaps sitting on that lender (at any depth: md, dm-crypt): their
   *  pages come home, or stay on the other leg of a mirror. */
  swaps: { device: string; usedKb: number; mirrored: boolean }[];
  memAvailableKb: number;
  /** Free kB on the swap devices that are not on that lender. */
  otherFreeKb: number;
}

const num = (v: string | undefined, what: string, line: string): number => {
  const n = Number(v);
  if (v === undefined || v === '' || !Number.isFinite(n))
    throw new Error(`drain-check: no number for ${what} in '${line}'`);
  return n;
};

/** Parses `ramster-modern drain-check` (one fact a line); throws on a line it cannot read, so
 *  a wrong answer never passes for room. */
export function parseDrainCheck(out: string): DrainCheck {
  const c: DrainCheck = {
    lender: -1,
    namespaces: [],
    controllers: [],
    mirrors: [],
    swaps: [],
    memAvailableKb: -1,
    otherFreeKb: -1,
  };
  for (const line of out.split('\n').filter((l) => l.trim())) {
    const [kind, a, b, d, e, f] = line.trim().split(/\s+/);
    if (kind === 'lender') c.lender = num(a, 'the lender', line);
    else if (kind === 'namespace') c.namespaces.push({ subsystem: a, device: b && b !== '-' ? b : undefined });
    else if (kind === 'controller') c.controllers.push({ name: a, subsystem: b ?? '', state: d ?? '' });
    else if (kind === 'mirror')
      c.mirrors.push({
        md: a,
        leg: b,
        degraded: num(d, 'degraded', line),
        syncAction: e ?? '',
        raidDisks: num(f, 'raid_disks', line),
      });
    else if (kind === 'swap' && (d === 'home' || d === 'mirrored'))
      c.swaps.push({ device: a, usedKb: num(b, 'the pages in use', line), mirrored: d === 'mirrored' });
    else if (kind === 'memavailable') c.memAvailableKb = num(a, 'MemAvailable', line);
    else if (kind === 'otherfree') c.otherFreeKb = num(a, 'the other free swap', line);
    else throw new Error(`drain-check: unknown line '${line}' (is ramster-modern older than this ramster-provision?)`);
  }
  if (c.lender < 0 || c.memAvailableKb < 0 || c.otherFreeKb < 0)
    throw new Error(`drain-check answered no lender, MemAvailable or free swap: '${out.trim().slice(0, 200)}'`);
  return c;
}

const mib = (kb: number) => Math.floor(kb / 1024);

/** Swap devices whose pages come home (those over a mirror keep them on the other leg). */
export const swapsComingHome = (c: DrainCheck): DrainCheck['swaps'] => c.swaps.filter((s) => !s.mirrored);

/** Pages (kB) the swapoffs bring home, and the room for them. */
export function drainRoom(c: DrainCheck, reserveMb: number): { usedKb: number; roomKb: number } {
  const usedKb = swapsComingHome(c).reduce((s, d) => s + d.usedKb, 0);
  return { usedKb, roomKb: c.memAvailableKb + c.otherFreeKb - reserveMb * 1024 };
}

/** Why this borrower cannot drain that lender now (nothing is changed then), or undefined. */
export function drainRefusal(c: DrainCheck, host: string, lenderHost: string, reserveMb: number): string | undefined {
  for (const m of c.mirrors) {
    if (m.degraded !== 0)
      return `${host}: mirror /dev/${m.md} is already degraded, so its leg /dev/${m.leg} on ${lenderHost} may hold the only good copy: run ramster-provision apply (it adds the missing leg back and md resyncs), wait for [UU] in /proc/mdstat, then drain again; nothing was changed`;
    if (m.syncAction !== 'idle')
      return `${host}: mirror /dev/${m.md} is busy (${m.syncAction}): wait until /proc/mdstat shows it idle, then drain again; nothing was changed`;
  }
  const { usedKb, roomKb } = drainRoom(c, reserveMb);
  if (usedKb > 0 && usedKb >= roomKb)
    return `${host} has no room for its pages on ${lenderHost}: ${swapsComingHome(c)
      .map((s) => `${s.device} holds ${mib(s.usedKb)} MiB`)
      .join(
        ', ',
      )}, and MemAvailable ${mib(c.memAvailableKb)} MiB + other free swap ${mib(c.otherFreeKb)} MiB - ${reserveMb} MiB kept free (--reserve-mb) = ${mib(roomKb)} MiB: stop or shrink the workload on ${host}, or add local swap there (a swap file), then drain again; nothing was changed`;
  return undefined;
}

/** One line of what the drain does on this borrower (the step's summary). */
export function drainSummary(c: DrainCheck, lenderHost: string): string {
  const parts = [
    ...c.mirrors.map((m) => `fail and remove leg /dev/${m.leg} of /dev/${m.md} (degraded until apply)`),
    ...swapsComingHome(c).map((s) => `swapoff ${s.device} (${mib(s.usedKb)} MiB home)`),
    ...c.controllers.map((k) => `disconnect ${k.name}`),
  ];
  return parts.length ? `drain ${lenderHost}: ${parts.join(', ')}` : `drain ${lenderHost}: nothing connected`;
}

/** A cluster as the drain sees it: its shape and backend. */
export type DrainCluster = ClusterShape & { backend: Backend };

/**
 * The hosts a drain of `selected` (inventory names, after --limit) runs on: the lenders among
 * them and every borrower of theirs. Throws, with the fix, when a selected host lends nothing
 * or is not a modern node.
 */
export function drainHosts(clusters: DrainCluster[], selected: string[]): { lenders: string[]; hosts: string[] } {
  if (!selected.length)
    throw new Error('no host selected: name the lenders to drain with --limit (e.g. --limit node2)');
  const hosts = new Set<string>();
  for (const h of selected) {
    const cluster = clusters.find((c) => c.nodes.some((n) => n.host === h));
    if (!cluster) throw new Error(`${h} is in no cluster of the inventory: drain is for lenders of a modern cluster`);
    if (cluster.backend !== 'modern')
      throw new Error(
        `${h} is a node of cluster ${cluster.name}, which uses the ${cluster.backend} backend: drain needs backend: modern`,
      );
    const node = cluster.nodes.find((n) => n.host === h)!;
    const borrowers = borrowersOf(cluster, node.number);
    if (!borrowers.length)
      throw new Error(
        `${h} lends to no node (no node of cluster ${cluster.name} targets node ${node.number}): nothing to drain; --limit the lenders`,
      );
    hosts.add(h);
    for (const b of borrowers) hosts.add(cluster.nodes.find((n) => n.number === b)!.host);
  }
  return { lenders: selected, hosts: [...hosts] };
}

/** Progress of a swapoff: `used` kB of `total` still out after `seconds`. */
export function swapoffProgress(device: string, totalKb: number, usedKb: number, seconds: number): string {
  const done = totalKb > 0 ? Math.round(((totalKb - usedKb) / totalKb) * 100) : 100;
  return `swapoff ${device}: ${mib(usedKb)} of ${mib(totalKb)} MiB still out, ${done}% home (${seconds} s)`;
}

/** Our live nvmet exports on a host, one subsystem NQN a line in frame `lends` (read-only;
 *  none: not lending). */
export const LENT_EXPORTS_SCRIPT = `rp_frame lends
for s in /sys/kernel/config/nvmet/subsystems/${NQN_PREFIX}*; do [ -d "$s" ] && echo "\${s##*/}"; done; true`;

/** The subsystems in LENT_EXPORTS_SCRIPT's frames. */
export const parseLentExports = (f: Frames): string[] =>
  bodyLines(f.body('lends'))
    .map((l) => l.trim())
    .filter(Boolean);

/** Why rebooting a host that lends RAM is refused (its borrowers' pages live in its tmpfs and
 *  are lost with one copy), or undefined when it lends nothing. */
export function rebootRefusal(host: string, exports: string[]): string | undefined {
  if (!exports.length) return undefined;
  const to = exports.map((s) => /-to-node(\d+)$/.exec(s)?.[1]).filter(Boolean);
  return `${host} lends RAM to node ${to.join(', ') || '?'} (nvmet exports ${exports.join(', ')}): rebooting it now loses the pages they keep there. Run ramster-provision drain -i <inventory> --limit ${host} first (their pages come home, then it stops lending), then reboot; apply lends again afterwards. (ignore_lent_ram: true reboots anyway.)`;
}
