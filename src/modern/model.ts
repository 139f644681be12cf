/**
 * The modern backend's cluster settings (zswap plus swap on another node's RAM over NVMe/TCP):
 * their schema, defaults and rules. The inventory loader finds them in a `ramster:` section
 * with `backend: modern`; src/modern/plan.ts turns a ModernCluster into each node's plan.
 */
import { type ClusterShape, integerSetting, type SettingProblem, type SettingSchema } from '../cluster/model.ts';

export interface ModernSettings {
  /** MiB each lender offers each borrower. */
  lendMb: number;
  replicas: 1 | 2;
  nvmePort: number;
  zswapCompressor?: string;
  zswapMaxPoolPercent?: number;
  /** NVMe in-band authentication of every (borrower, lender) pair: DH-HMAC-CHAP, both ways. */
  auth: 'dhchap' | 'none';
  /** Bumping it makes the next apply replace every pair's keys (recorded next to them). */
  authRotation: number;
  /** Swap pages encrypted on the borrower before they leave it: dm-crypt with a key made at
   *  every boot and never stored (the lender only ever holds ciphertext), or none. */
  encryption: 'dm-crypt' | 'none';
}

export interface ModernCluster extends ClusterShape {
  backend: 'modern';
  modern: ModernSettings;
}

export const DEFAULT_LEND_MB = 1024;

/** Memory kept free on a borrower by default (`--reserve-mb`): the page cache and the kernel
 *  need some while the pages come home. */
export const DEFAULT_RESERVE_MB = 64;

/** The `ramster:` section's keys of the modern backend (the inventory schema's fragment). */
export const MODERN_SETTINGS_SCHEMA = {
  lend_mb: {
    description:
      'Modern backend: MiB of RAM each lending node offers to each borrower (upper bound; pages are allocated only when written). 1 to 16777216 (16 TiB).',
    type: 'integer',
    minimum: 1,
    maximum: 16777216,
    errorMessage: {
      type: 'must be a whole number of MiB from 1 to 16777216\nhint: e.g. `lend_mb: 1024`',
      minimum: 'must be at least 1 MiB\nhint: e.g. `lend_mb: 1024`',
      maximum:
        'must be from 1 to 16777216 MiB (16 TiB)\nhint: give what each lender can spare, in MiB, e.g. `lend_mb: 1024` for 1 GiB',
    },
  },
  replicas: {
    description:
      'Modern backend: copies of each swapped page. 2 mirrors every page on two lending nodes (md RAID1), which needs at least 3 nodes. Default: 1.',
    enum: [1, 2],
    errorMessage: {
      enum: 'must be 1 or 2\nhint: 2 keeps each page on two lending nodes',
    },
  },
  nvme_port: {
    description: 'Modern backend: NVMe/TCP port of the lending nodes. Default: 4420.',
    type: 'integer',
    minimum: 1,
    maximum: 65535,
    default: 4420,
    errorMessage: {
      type: 'must be a port number\nhint: the NVMe/TCP default is 4420',
      minimum: 'must be a port number from 1 to 65535\nhint: the NVMe/TCP default is 4420',
      maximum: 'must be a port number from 1 to 65535\nhint: the NVMe/TCP default is 4420',
    },
  },
  zswap_compressor: {
    description: "Modern backend: zswap compressor on borrowing nodes, e.g. lzo, lz4, zstd. Default: the kernel's.",
    type: 'string',
    pattern: '^[a-z0-9-]+$',
    errorMessage: {
      type: 'must be a compressor name\nhint: e.g. `zswap_compressor: lz4`',
      pattern: 'is not a compressor name\nhint: use a kernel crypto compressor name such as lzo, lz4 or zstd',
    },
  },
  zswap_max_pool_percent: {
    description:
      "Modern backend: the most RAM, in percent, zswap may use on borrowing nodes. Default: the kernel's (20).",
    type: 'integer',
    minimum: 1,
    maximum: 100,
    errorMessage: {
      type: 'must be a whole number of percent\nhint: e.g. `zswap_max_pool_percent: 20`',
      minimum: 'must be a percentage from 1 to 100\nhint: the kernel default is 20',
      maximum: 'must be a percentage from 1 to 100\nhint: the kernel default is 20',
    },
  },
  auth: {
    description:
      "Modern backend: how a lender knows its borrower. dhchap (default): NVMe in-band authentication, DH-HMAC-CHAP both ways, with a key pair per (borrower, lender) made by ramster-provision and kept root-only on those two nodes (needs CONFIG_NVME_HOST_AUTH and CONFIG_NVME_TARGET_AUTH: Debian 13's kernel, not Debian 12's). none: the host NQN alone (any machine on the cluster network can claim it); verify and doctor warn.",
    enum: ['dhchap', 'none'],
    default: 'dhchap',
    errorMessage: {
      enum: 'must be dhchap or none\nhint: dhchap authenticates every connection (a kernel with NVMe in-band auth, e.g. the Debian 13 one); none only where the kernel has none (Debian 12)',
    },
  },
  auth_rotation: {
    description:
      "Modern backend: generation of the DH-HMAC-CHAP keys. Raise it (e.g. 0 -> 1) and apply to replace every pair's keys; the number is recorded next to the keys on the nodes. Default: 0.",
    type: 'integer',
    minimum: 0,
    maximum: 1000000,
    default: 0,
    errorMessage: {
      type: 'must be a whole number\nhint: raise it by one and apply to rotate the keys, e.g. `auth_rotation: 1`',
      minimum: 'must be 0 or more\nhint: raise it by one and apply to rotate the keys',
      maximum: 'must be at most 1000000\nhint: raise it by one and apply to rotate the keys',
    },
  },
  encryption: {
    description:
      "Modern backend: how a borrower's swap pages are protected from the network and the lender. dm-crypt (default): encrypted on the borrower (aes-xts-plain64 under the swap, above the mirror with replicas: 2) with a random key made at every boot and never stored, so the cluster link and the lender's tmpfs only ever see ciphertext. none: pages cross the cluster network and sit in the lender's RAM in clear; verify and doctor warn.",
    enum: ['dm-crypt', 'none'],
    default: 'dm-crypt',
    errorMessage: {
      enum: 'must be dm-crypt or none\nhint: dm-crypt encrypts swap pages on the borrower with a key made at every boot; none leaves them readable on the network and on the lender',
    },
  },
} as const satisfies Record<string, SettingSchema>;

export const MODERN_KEYS = Object.keys(MODERN_SETTINGS_SCHEMA);

/** The settings of a `ramster:` section: each value the schema accepts (the rest were
 *  reported by it), else the default. */
export function modernSettings(section: Record<string, unknown>): ModernSettings {
  const s = MODERN_SETTINGS_SCHEMA;
  const compressor = section.zswap_compressor;
  const maxPool = integerSetting(s.zswap_max_pool_percent, section.zswap_max_pool_percent);
  return {
    lendMb: integerSetting(s.lend_mb, section.lend_mb) ?? DEFAULT_LEND_MB,
    replicas: section.replicas === 2 ? 2 : 1,
    nvmePort: integerSetting(s.nvme_port, section.nvme_port) as number,
    ...(typeof compressor === 'string' && new RegExp(s.zswap_compressor.pattern).test(compressor)
      ? { zswapCompressor: compressor }
      : {}),
    ...(maxPool !== undefined ? { zswapMaxPoolPercent: maxPool } : {}),
    auth: section.auth === 'none' ? 'none' : 'dhchap',
    authRotation: integerSetting(s.auth_rotation, section.auth_rotation) ?? 0,
    encryption: section.encryption === 'none' ? 'none' : 'dm-crypt',
  };
}

/** Rules the schema cannot say: they need the cluster's size. */
export function modernSettingProblems(s: ModernSettings, nodeCount: number, label: string): SettingProblem[] {
  if (s.replicas !== 2 || nodeCount === 0 || nodeCount >= 3) return [];
  return [
    {
      key: 'replicas',
      message: `\`replicas: 2\` needs at least 3 nodes, but ${label} has ${nodeCount}`,
      hint: 'each borrowing node mirrors its pages onto two other nodes: add a node, or use `replicas: 1`',
    },
  ];
}
