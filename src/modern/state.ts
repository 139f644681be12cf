/**
 * The modern backend's live state as lines a person can read in a diff, one per fact:
 * what the plan wants (desired) and what the probe found (actual), for the lending and for
 * the borrowing side. Device names (nvme0n1, md127) vary between boots, so lines name
 * namespaces by their subsystem NQN instead.
 */
import {
  CRYPT_CIPHER,
  CRYPT_DEVICE,
  CRYPT_NAME,
  MD_DEVICE,
  NQN_PREFIX,
  SWAP_LABEL,
  SWAP_PRIORITY,
  type ModernPlan,
} from './plan.ts';
import type { ModernProbe } from './probe.ts';

const ours = (nqn: string) => nqn.startsWith(NQN_PREFIX);

/** Digests (auth.ts keyDigest) of the keys each key file holds, when the step read them: the
 *  lines then tell these keys from other ones. Without it (verify) any key counts. */
export type KeyDigests = Map<string, { host: string; ctrl: string }>;

const keyed = (d: string) => d !== 'none' && d !== 'absent';
/** How a pair authenticates, as the kernel holds its two keys (digests), in one phrase. */
function authPhrase(host: string, ctrl: string, file: string | undefined, want?: KeyDigests): string {
  if (!keyed(host) && !keyed(ctrl))
    return host === 'absent' ? 'no authentication (kernel without it)' : 'no authentication';
  const expected = file ? want?.get(file) : undefined;
  if (!file || (expected && (expected.host !== host || expected.ctrl !== ctrl))) return 'DH-HMAC-CHAP with other keys';
  return keyed(host) && keyed(ctrl) ? `DH-HMAC-CHAP both ways (keys of ${file})` : `DH-HMAC-CHAP one way only`;
}
const mib = (bytes: number) => Math.round(bytes / 1048576);

export function desiredLendLines(plan: ModernPlan): string[] {
  if (!plan.lends.length) return [];
  const port = String(plan.port);
  return [
    `port ${port} listens on ${plan.address}:${port} (tcp, ipv4)`,
    ...plan.lends.flatMap((l) => [
      ...(l.authFile ? [`host ${l.hostNqn} authenticates with DH-HMAC-CHAP both ways (keys of ${l.authFile})`] : []),
      `export ${l.subsystem} to ${l.hostNqn} only`,
      `namespace ${l.subsystem} 1 = ${l.file} (${l.sizeMb} MiB, buffered, enabled)`,
      `port ${port} serves ${l.subsystem}`,
    ]),
  ];
}

export function actualLendLines(p: ModernProbe, plan: ModernPlan, want?: KeyDigests): string[] {
  const linked = new Set(p.links.filter((l) => ours(l.subsystem)).map((l) => l.port));
  const lines: string[] = [];
  for (const port of p.ports) {
    if (!linked.has(port.id) && !(plan.lends.length && port.id === String(plan.port))) continue;
    lines.push(`port ${port.id} listens on ${port.traddr}:${port.trsvcid} (${port.trtype}, ${port.adrfam})`);
  }
  for (const s of p.subsystems.filter((x) => ours(x.name))) {
    const hosts = p.allowed.filter((a) => a.subsystem === s.name).map((a) => a.host);
    for (const h of hosts) {
      const k = p.auth.hostKeys.get(h);
      const file = plan.lends.find((l) => l.hostNqn === h && l.subsystem === s.name)?.authFile;
      if (k && (keyed(k.key) || keyed(k.ctrlKey) || file))
        lines.push(`host ${h} authenticates with ${authPhrase(k.key, k.ctrlKey, file, want)}`);
    }
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

/** The dm-crypt line: the mapping, its cipher and discards, and the device under it. */
const cryptLine = (cipher: string, discards: boolean, under: string) =>
  `dm-crypt ${CRYPT_DEVICE} (${cipher}, key made at boot${discards ? ', discards' : ''}) over ${under}`;

export function desiredBorrowLines(plan: ModernPlan): string[] {
  if (!plan.borrows.length) return [];
  const z = plan.zswap ?? {};
  const backing = plan.mirrored
    ? `mirror ${MD_DEVICE} (raid1 of ${plan.borrows.length} namespaces)`
    : `namespace ${plan.borrows[0].subsystem}`;
  const encrypted = plan.encryption === 'dm-crypt';
  const device = encrypted ? `dm-crypt ${CRYPT_DEVICE}` : backing;
  return [
    `zswap enabled${z.compressor ? `, compressor ${z.compressor}` : ''}${z.maxPoolPercent !== undefined ? `, max_pool_percent ${z.maxPoolPercent}` : ''}`,
    ...plan.borrows.flatMap((b) => [
      `connected to ${b.subsystem} at ${b.address}:${b.port} (live)`,
      ...(b.authFile
        ? [`connection to ${b.subsystem} authenticates with DH-HMAC-CHAP both ways (keys of ${b.authFile})`]
        : []),
    ]),
    ...(plan.mirrored ? [`mirror ${MD_DEVICE} active (raid1 over ${plan.borrows.length} namespaces)`] : []),
    ...(encrypted ? [cryptLine(CRYPT_CIPHER, true, backing.replace(/ \(raid1 of .*/, ''))] : []),
    `swap on ${device}, label ${SWAP_LABEL}, priority ${SWAP_PRIORITY}`,
  ];
}

/** A block device by its kernel name, in the words of the lines: the mirror, a namespace by its
 *  subsystem NQN, or the device itself. */
function deviceWords(p: ModernProbe, name: string): string {
  if (p.mdLinks.get(MD_DEVICE) === `/dev/${name}`) return `mirror ${MD_DEVICE}`;
  const ns = p.blockDevices.find((b) => b.name === name);
  return ns?.subsystem ? `namespace ${ns.subsystem}` : `/dev/${name}`;
}

/** Our dm-crypt mapping, when there is one. */
export const ourCrypt = (p: ModernProbe) => p.crypt.find((c) => c.name === CRYPT_NAME);

function actualCryptLines(p: ModernProbe): string[] {
  const c = ourCrypt(p);
  if (!c) return [];
  if (c.target !== 'crypt') return [`${CRYPT_DEVICE} is a ${c.target || 'device-mapper'} device, not dm-crypt`];
  return [cryptLine(c.cipher, c.discards, c.slaves.map((s) => deviceWords(p, s)).join(', ') || 'nothing')];
}

export function actualBorrowLines(p: ModernProbe, plan: ModernPlan, want?: KeyDigests): string[] {
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
    const k = p.auth.ctrlKeys.get(c.name);
    const file = plan.borrows.find((b) => b.subsystem === c.subsystem)?.authFile;
    if (k && (keyed(k.secret) || keyed(k.ctrlSecret) || file))
      lines.push(`connection to ${c.subsystem} authenticates with ${authPhrase(k.secret, k.ctrlSecret, file, want)}`);
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
  lines.push(...actualCryptLines(p));
  for (const s of p.swaps.filter((x) => x.label === SWAP_LABEL))
    lines.push(`swap on ${swapWords(p, plan, s.device)}, label ${s.label}, priority ${s.priority}`);
  return lines;
}

/** The device swap is on, in the words of the lines. */
function swapWords(p: ModernProbe, plan: ModernPlan, device: string): string {
  const crypt = ourCrypt(p);
  if (crypt && device === `/dev/${crypt.dm}`) return `dm-crypt ${CRYPT_DEVICE}`;
  const what = deviceWords(p, device.replace('/dev/', ''));
  return what.startsWith('mirror ') ? `${what} (raid1 of ${plan.borrows.length} namespaces)` : what;
}
