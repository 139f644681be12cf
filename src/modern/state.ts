/**
 * The modern backend's live state as lines a person can read in a diff, one per fact:
 * what the plan wants (desired) and what the probe found (actual), for the lending and for
 * the borrowing side. Device names (nvme0n1, md127) vary between boots, so lines name
 * namespaces by their subsystem NQN instead.
 */
import { MD_DEVICE, NQN_PREFIX, SWAP_LABEL, SWAP_PRIORITY, type ModernPlan } from './plan.ts';
import type { ModernProbe } from './probe.ts';

const ours = (nqn: string) => nqn.startsWith(NQN_PREFIX);
const mib = (bytes: number) => Math.round(bytes / 1048576);

export function desiredLendLines(plan: ModernPlan): string[] {
  if (!plan.lends.length) return [];
  const port = String(plan.port);
  return [
    `port ${port} listens on ${plan.address}:${port} (tcp, ipv4)`,
    ...plan.lends.flatMap((l) => [
      `export ${l.subsystem} to ${l.hostNqn} only`,
      `namespace ${l.subsystem} 1 = ${l.file} (${l.sizeMb} MiB, buffered, enabled)`,
      `port ${port} serves ${l.subsystem}`,
    ]),
  ];
}

export function actualLendLines(p: ModernProbe, plan: ModernPlan): string[] {
  const linked = new Set(p.links.filter((l) => ours(l.subsystem)).map((l) => l.port));
  const lines: string[] = [];
  for (const port of p.ports) {
    if (!linked.has(port.id) && !(plan.lends.length && port.id === String(plan.port))) continue;
    lines.push(`port ${port.id} listens on ${port.traddr}:${port.trsvcid} (${port.trtype}, ${port.adrfam})`);
  }
  for (const s of p.subsystems.filter((x) => ours(x.name))) {
    const hosts = p.allowed.filter((a) => a.subsystem === s.name).map((a) => a.host);
    lines.push(
      s.allowAnyHost === '0' && hosts.length === 1
        ? `export ${s.name} to ${hosts[0]} only`
        : `export ${s.name} to ${s.allowAnyHost === '1' ? 'ANY host' : hosts.join(', ') || 'no host'}`,
    );
    for (const n of p.namespaces.filter((x) => x.subsystem === s.name)) {
      const file = p.files.find((f) => f.path === n.path);
      const size = file ? `${mib(file.size)} MiB` : 'missing file';
      lines.push(
        `namespace ${s.name} ${n.nsid} = ${n.path} (${size}, ${n.bufferedIo === '1' ? 'buffered' : 'direct'}, ${n.enable === '1' ? 'enabled' : 'disabled'})`,
      );
    }
    for (const l of p.links.filter((x) => x.subsystem === s.name)) lines.push(`port ${l.port} serves ${s.name}`);
  }
  return lines;
}

export function desiredBorrowLines(plan: ModernPlan): string[] {
  if (!plan.borrows.length) return [];
  const z = plan.zswap ?? {};
  const device = plan.mirrored
    ? `mirror ${MD_DEVICE} (raid1 of ${plan.borrows.length} namespaces)`
    : `namespace ${plan.borrows[0].subsystem}`;
  return [
    `zswap enabled${z.compressor ? `, compressor ${z.compressor}` : ''}${z.maxPoolPercent !== undefined ? `, max_pool_percent ${z.maxPoolPercent}` : ''}`,
    ...plan.borrows.map((b) => `connected to ${b.subsystem} at ${b.address}:${b.port} (live)`),
    ...(plan.mirrored ? [`mirror ${MD_DEVICE} active (raid1 over ${plan.borrows.length} namespaces)`] : []),
    `swap on ${device}, label ${SWAP_LABEL}, priority ${SWAP_PRIORITY}`,
  ];
}

export function actualBorrowLines(p: ModernProbe, plan: ModernPlan): string[] {
  if (!plan.borrows.length && !p.controllers.some((c) => ours(c.subsystem))) return [];
  const z = plan.zswap ?? {};
  const lines: string[] = [];
  if (plan.borrows.length) {
    const zs = p.zswap;
    lines.push(
      `zswap ${zs.enabled === 'Y' ? 'enabled' : 'disabled'}${z.compressor ? `, compressor ${zs.compressor}` : ''}${z.maxPoolPercent !== undefined ? `, max_pool_percent ${zs.max_pool_percent}` : ''}`,
    );
  }
  for (const c of p.controllers.filter((x) => ours(x.subsystem))) {
    const addr = c.address.match(/traddr=([^,]+),trsvcid=(\d+)/);
    lines.push(`connected to ${c.subsystem} at ${addr ? `${addr[1]}:${addr[2]}` : c.address} (${c.state})`);
  }
  const mdNode = p.mdLinks.get(MD_DEVICE);
  const mdLine = mdNode
    ? p.mdstat.split('\n').find((l) => l.startsWith(`${mdNode.replace('/dev/', '')} : active raid1 `))
    : undefined;
  // members that have not failed, whether in sync or still resyncing
  const members = mdLine
    ?.split(' ')
    .slice(4)
    .filter((m) => m && !m.endsWith('(F)')).length;
  if (mdLine) lines.push(`mirror ${MD_DEVICE} active (raid1 over ${members} namespaces)`);
  for (const s of p.swaps.filter((x) => x.label === SWAP_LABEL)) {
    const dev = s.device.replace('/dev/', '');
    const ns = p.blockDevices.find((b) => b.name === dev);
    const what =
      mdNode && s.device === mdNode
        ? `mirror ${MD_DEVICE} (raid1 of ${plan.borrows.length} namespaces)`
        : ns
          ? `namespace ${ns.subsystem}`
          : s.device;
    lines.push(`swap on ${what}, label ${s.label}, priority ${s.priority}`);
  }
  return lines;
}
