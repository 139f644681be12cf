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
}

export interface ModernCluster extends ClusterShape {
  backend: 'modern';
  modern: ModernSettings;
}

export const DEFAULT_LEND_MB = 1024;

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
