/**
 * What every RAMster-style cluster is, whatever its backend: named nodes with numbers and
 * addresses, and who borrows from whom. Each backend adds its own settings to this shape
 * (src/ramster/model.ts, src/modern/model.ts); the inventory loader only finds the values.
 */
export type Backend = 'legacy' | 'modern';
export type Topology = 'one-way' | 'symmetric' | 'ram-server';
export const TOPOLOGIES: readonly Topology[] = ['one-way', 'symmetric', 'ram-server'];

/** A host's place in a cluster. */
export interface ClusterNode {
  host: string; // inventory name
  hostname: string; // must equal the node's `hostname` (or its short form)
  number: number; // 0..7
  /** Address the cluster's nodes use to reach each other. */
  clusterAddress: string;
  /** Node numbers this node lends its pages to (RAMster supports one; `replicas: 2` uses two). */
  targets: number[];
}

export interface ClusterShape {
  name: string;
  /** Group whose `ramster:` section defined the cluster. */
  group: string;
  topology?: Topology;
  /** Sorted by node number. */
  nodes: ClusterNode[];
}

/** A backend's own rule broken by a cluster's settings: said at `key` of the `ramster:`
 *  section (at the section itself when the key is absent or not given). */
export interface SettingProblem {
  key?: string;
  message: string;
  hint: string;
  /** Point at the key itself rather than its value. */
  atKey?: boolean;
}

/** The JSON-schema of one key of the `ramster:` section (a backend's fragment of the
 *  inventory schema; `npm run schemas` writes them into schemas/inventory.schema.json). */
export interface SettingSchema {
  description: string;
  type?: 'integer' | 'string';
  enum?: readonly unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  default?: unknown;
  errorMessage: Record<string, string>;
}

/** An integer setting as the schema accepts it (anything else was reported), else its default. */
export function integerSetting(schema: SettingSchema, value: unknown): number | undefined {
  const { minimum = -Infinity, maximum = Infinity } = schema;
  const ok = typeof value === 'number' && Number.isInteger(value) && value >= minimum && value <= maximum;
  return ok ? value : (schema.default as number | undefined);
}

/** Numbers of the nodes whose targets include `number` (it lends them RAM). */
export const borrowersOf = (cluster: ClusterShape, number: number): number[] =>
  cluster.nodes.filter((b) => b.targets.includes(number)).map((b) => b.number);
