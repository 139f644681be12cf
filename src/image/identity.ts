import { chmodSync, copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterOf, type Inventory } from '../inventory/types.ts';
import { runCommand } from '../guestimage/command.ts';
import { ImageError } from './errors.ts';
import { ensureKeyPair } from '../guestimage/keys.ts';
import { NIC0_MAC } from '../guestimage/recipe.ts';
import { execInImage } from './chroot.ts';
import { commandFailed, shq } from '../shell.ts';

/** Who the image is: everything per host that the base root filesystem lacks. */
export interface HostIdentity {
  /** Inventory name. */
  host: string;
  hostname: string;
  /** Where the controller reaches the booted image over SSH (the inventory's address and port). */
  address: string;
  port: number;
  /** Static address of the cluster NIC (absent for a host in no RAMster cluster). */
  clusterAddress?: string;
  clusterPrefix: number;
  /** MAC of the cluster NIC; unset: every Ethernet NIC but the first (the lab's layout). */
  clusterMac?: string;
  /** /etc/hosts entries for the cluster's nodes. */
  peers: { hostname: string; address: string }[];
  /** root's authorized_keys. */
  authorizedKeys: string;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

export function hostIdentity(
  inv: Inventory,
  host: string,
  opts: { authorizedKeys: string; clusterPrefix?: number; clusterMac?: string },
): HostIdentity {
  const h = inv.hosts.get(host);
  if (!h)
    throw new ImageError(`host ${host} is not in ${inv.file}`, `hosts there: ${[...inv.hosts.keys()].join(', ')}`);
  const prefix = opts.clusterPrefix ?? 24;
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 32)
    throw new ImageError(`--cluster-prefix must be 1..32, got ${prefix}`);
  if (opts.clusterMac !== undefined && !MAC.test(opts.clusterMac))
    throw new ImageError(`--cluster-mac ${opts.clusterMac} is not a MAC address`, 'write it as 52:54:00:99:00:01');
  if (opts.clusterMac?.toLowerCase() === NIC0_MAC)
    throw new ImageError(
      `--cluster-mac ${opts.clusterMac} is the first NIC's MAC (DHCP, SSH)`,
      'give the MAC of the second NIC',
    );
  const cluster = clusterOf(inv, host);
  const node = cluster?.nodes.find((n) => n.host === host);
  return {
    host,
    hostname: node?.hostname ?? host,
    address: h.address,
    port: h.port ?? 22,
    clusterAddress: node?.clusterAddress,
    clusterPrefix: prefix,
    clusterMac: opts.clusterMac?.toLowerCase(),
    peers: cluster ? cluster.nodes.map((n) => ({ hostname: n.hostname, address: n.clusterAddress })) : [],
    authorizedKeys: opts.authorizedKeys,
  };
}

const KEY_LINE = /(^|\s)(ssh-(ed25519|rsa|dss)|ecdsa-sha2-\S+|sk-\S+)\s+[A-Za-z0-9+/=]{20,}/;

/** The text of an authorized_keys file given with --authorized-key, checked to hold a key. */
export function readAuthorizedKeys(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ImageError(`cannot read --authorized-key ${file}: ${(e as Error).message}`);
  }
  const keys = text.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  if (!keys.length || !keys.every((l) => KEY_LINE.test(l))) {
    throw new ImageError(
      `--authorized-key ${file} is not an authorized_keys file`,
      'give a public key (the .pub file, e.g. ~/.ssh/id_ed25519.pub), not a private key',
    );
  }
  return `${keys.join('\n')}\n`;
}

export interface HostKey {
  /** Private key file (in the build's work directory). */
  path: string;
  /** `ssh-ed25519 AAAA…` (no comment). */
  publicKey: string;
}

/** A new ed25519 host key, or the one given with --host-key (so a rebuilt image keeps its
 *  identity and clients' known_hosts stay valid). */
export async function hostKey(workDir: string, id: HostIdentity, existing?: string): Promise<HostKey> {
  const path = join(workDir, 'ssh_host_ed25519_key');
  if (existing) {
    try {
      copyFileSync(existing, path);
      chmodSync(path, 0o600);
    } catch (e) {
      throw new ImageError(`cannot read --host-key ${existing}: ${(e as Error).message}`);
    }
    const pub = await runCommand('ssh-keygen', ['-y', '-f', path], `reading the host key ${existing}`).catch(() => {
      throw new ImageError(
        `--host-key ${existing} is not a readable OpenSSH private key`,
        'give a private key without passphrase, e.g. one made by `ssh-keygen -t ed25519 -N "" -f key`',
      );
    });
    const publicKey = pub.trim().split(/\s+/).slice(0, 2).join(' ');
    if (!publicKey.startsWith('ssh-ed25519 '))
      throw new ImageError(
        `--host-key ${existing} is not an ed25519 key`,
        'the image runs sshd with an ed25519 host key only: make one with `ssh-keygen -t ed25519`',
      );
    return { path, publicKey };
  }
  const kp = await ensureKeyPair(path, `root@${id.hostname}`);
  return { path, publicKey: kp.publicKey.split(' ').slice(0, 2).join(' ') };
}

/** The names a client uses for the booted image: its SSH endpoint from the inventory (with
 *  the port when it is not 22), then its hostname. */
export function knownHostsLine(id: HostIdentity, key: HostKey): string {
  const endpoint = id.port === 22 ? id.address : `[${id.address}]:${id.port}`;
  return `${[...new Set([endpoint, id.hostname])].join(',')} ${key.publicKey}\n`;
}

function networkFile(id: HostIdentity): string | undefined {
  if (!id.clusterAddress) return undefined;
  // networkd applies the first file (in name order) that matches a link: 10-lab-nic0 takes the
  // first NIC, so "any Ethernet link" here is every other one.
  const match = id.clusterMac ? `MACAddress=${id.clusterMac}` : 'Type=ether';
  return `# Written by ramster-provision image build: the RAMster cluster link of ${id.hostname}.\n[Match]\n${match}\n\n[Network]\nAddress=${id.clusterAddress}/${id.clusterPrefix}\nLinkLocalAddressing=no\n`;
}

function hostsFile(id: HostIdentity): string {
  return (
    `127.0.0.1\tlocalhost\n127.0.1.1\t${id.hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n` +
    id.peers.map((p) => `${p.address}\t${p.hostname}\n`).join('')
  );
}

/**
 * Writes the host's identity into the rootfs from inside the chroot (so no path can resolve
 * outside it), the script on stdin (the private key never shows in a command line):
 * hostname, /etc/hosts, SSH host key, the cluster NIC's networkd file, root's authorized_keys.
 * The lab's fw_cfg configuration unit is disabled: the identity is baked in, nothing at boot
 * may replace it.
 */
export async function writeIdentity(rootfs: string, id: HostIdentity, key: HostKey): Promise<void> {
  const files: { path: string; mode: string; text: string }[] = [
    { path: '/etc/hostname', mode: '0644', text: `${id.hostname}\n` },
    { path: '/etc/hosts', mode: '0644', text: hostsFile(id) },
    { path: '/etc/ssh/ssh_host_ed25519_key', mode: '0600', text: readFileSync(key.path, 'utf8') },
    { path: '/etc/ssh/ssh_host_ed25519_key.pub', mode: '0644', text: `${key.publicKey} root@${id.hostname}\n` },
    { path: '/root/.ssh/authorized_keys', mode: '0600', text: id.authorizedKeys },
  ];
  const net = networkFile(id);
  if (net) files.push({ path: '/etc/systemd/network/20-ramster-cluster.network', mode: '0644', text: net });
  const script = [
    'set -eu',
    'install -d -m 0700 /root/.ssh',
    ...files.map((f) => {
      const tmp = `${f.path}.ramster-image`;
      return `base64 -d > ${shq(tmp)} <<'EOF'\n${Buffer.from(f.text).toString('base64')}\nEOF\nchmod ${f.mode} ${shq(tmp)}; chown 0:0 ${shq(tmp)}; mv -f ${shq(tmp)} ${shq(f.path)}`;
    }),
    'if [ -e /etc/systemd/system/ramster-lab-config.service ]; then systemctl disable --quiet ramster-lab-config.service; fi',
  ].join('\n');
  const r = await execInImage(rootfs, 'exec /bin/sh -s', { stdin: script, timeoutMs: 120_000 });
  if (r.code !== 0)
    throw new ImageError(commandFailed('writing the host identity into the image', r, { lines: Infinity }));
}
