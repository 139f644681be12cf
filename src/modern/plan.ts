/**
 * The modern backend's desired state for one node, from the inventory cluster: which RAM it
 * lends (one NVMe/TCP namespace per borrowing node, backed by a sparse file on tmpfs), which
 * namespaces it borrows, and how it swaps onto them. Pure data: no transport, no shell.
 */
import type { ClusterNode } from '../cluster/model.ts';
import { authFile } from './auth.ts';
import type { ModernCluster } from './model.ts';

/** Our NQNs: a name space of our own, so nothing else in nvmet's configfs is ever touched. */
export const NQN_PREFIX = 'nqn.2026-11.io.ramster-provision';
export const LEND_DIR = '/run/ramster-lend';
export const CONF_PATH = '/etc/ramster/modern.conf';
/** mkswap labels are at most 16 bytes. */
export const SWAP_LABEL = 'ramster-remote';
export const MD_DEVICE = '/dev/md/ramster-swap';
/** dm-crypt under the swap (encryption: dm-crypt): /dev/mapper/<CRYPT_NAME> over the namespace,
 *  or over the mirror, with a random key made at every boot that never leaves the kernel. */
export const CRYPT_NAME = 'ramster-swap-crypt';
export const CRYPT_DEVICE = `/dev/mapper/${CRYPT_NAME}`;
export const CRYPT_CIPHER = 'aes-xts-plain64';
/** The highest swap priority there is: the remote device is used before any local swap. */
export const SWAP_PRIORITY = 32767;
/**
 * One copy: a network blip must never fail swap I/O, so the host reconnects for ever.
 * Two copies: a lender that is gone must fail its RAID1 leg instead of blocking the mirror,
 * so the host gives up on it after this many seconds and fails queued I/O after FAST_FAIL_S.
 */
export const MIRROR_CTRL_LOSS_S = 15;
export const MIRROR_FAST_FAIL_S = 5;

export const hostNqn = (cluster: string, node: number) => `${NQN_PREFIX}:${cluster}:node${node}`;
export const subsystemNqn = (cluster: string, lender: number, borrower: number) =>
  `${NQN_PREFIX}:${cluster}:lend:node${lender}-to-node${borrower}`;
export const lendFile = (borrower: number) => `${LEND_DIR}/node${borrower}.img`;

export interface Lend {
  borrower: number;
  /** Inventory name of the borrowing node. */
  borrowerHost: string;
  subsystem: string;
  hostNqn: string;
  file: string;
  sizeMb: number;
  /** The pair's DH-HMAC-CHAP key file (auth: dhchap), on this node and on the borrower. */
  authFile?: string;
}

export interface Borrow {
  lender: number;
  /** Inventory name of the lending node. */
  lenderHost: string;
  subsystem: string;
  hostNqn: string;
  address: string;
  port: number;
  /** -1: reconnect for ever. */
  ctrlLossTmo: number;
  fastIoFailTmo?: number;
  /** The pair's DH-HMAC-CHAP key file (auth: dhchap), on this node and on the lender. */
  authFile?: string;
}

export interface ModernPlan {
  cluster: string;
  node: number;
  address: string;
  port: number;
  lends: Lend[];
  borrows: Borrow[];
  /** Two borrows mirrored by md RAID1 (replicas: 2). */
  mirrored: boolean;
  zswap?: { compressor?: string; maxPoolPercent?: number };
  auth: 'dhchap' | 'none';
  authRotation: number;
  encryption: 'dm-crypt' | 'none';
}

export function modernPlan(cluster: ModernCluster, node: ClusterNode): ModernPlan {
  const {
    nvmePort: port,
    lendMb,
    zswapCompressor,
    zswapMaxPoolPercent,
    auth,
    authRotation,
    encryption,
  } = cluster.modern;
  const keys = (lender: number, borrower: number) =>
    auth === 'dhchap' ? { authFile: authFile(cluster.name, lender, borrower) } : {};
  const byNumber = new Map(cluster.nodes.map((n) => [n.number, n]));
  const mirrored = node.targets.length === 2;

  const lends = cluster.nodes
    .filter((b) => b.targets.includes(node.number))
    .map((b) => ({
      borrower: b.number,
      borrowerHost: b.host,
      subsystem: subsystemNqn(cluster.name, node.number, b.number),
      hostNqn: hostNqn(cluster.name, b.number),
      file: lendFile(b.number),
      sizeMb: lendMb,
      ...keys(node.number, b.number),
    }));

  const borrows = node.targets.map((t) => ({
    lender: t,
    lenderHost: byNumber.get(t)?.host ?? `node ${t}`,
    subsystem: subsystemNqn(cluster.name, t, node.number),
    hostNqn: hostNqn(cluster.name, node.number),
    address: byNumber.get(t)?.clusterAddress ?? '',
    port,
    ctrlLossTmo: mirrored ? MIRROR_CTRL_LOSS_S : -1,
    ...(mirrored ? { fastIoFailTmo: MIRROR_FAST_FAIL_S } : {}),
    ...keys(t, node.number),
  }));

  const zswap = borrows.length
    ? {
        ...(zswapCompressor !== undefined ? { compressor: zswapCompressor } : {}),
        ...(zswapMaxPoolPercent !== undefined ? { maxPoolPercent: zswapMaxPoolPercent } : {}),
      }
    : undefined;
  return {
    cluster: cluster.name,
    node: node.number,
    address: node.clusterAddress,
    port,
    lends,
    borrows,
    mirrored,
    zswap,
    auth,
    authRotation,
    encryption,
  };
}

/** The swap device a borrowing node uses, once its namespaces are connected. */
export const swapDeviceOf = (plan: ModernPlan, namespaces: string[]): string | undefined =>
  plan.mirrored ? MD_DEVICE : namespaces[0];

/** Kernel modules a node's plan needs (built-in ones are found by modinfo too). */
export function modulesNeeded(plan: ModernPlan, side: 'lend' | 'borrow'): string[] {
  if (side === 'lend') return plan.lends.length ? ['nvmet', 'nvmet-tcp'] : [];
  if (!plan.borrows.length) return [];
  return ['nvme-tcp', ...(plan.mirrored ? ['raid1'] : []), ...(plan.encryption === 'dm-crypt' ? ['dm-crypt'] : [])];
}
