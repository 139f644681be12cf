import type { Diagnostic } from '../input/diagnostics.ts';
import type { YamlSource } from '../input/yamlsource.ts';
import { SETTING_NAMES } from './settings.ts';
import {
  groupDepths,
  groupsOfHost,
  type HostOccurrence,
  type InventoryTree,
  type Setting,
  type Settings,
} from './tree.ts';
import type { Connection, HostEntry } from './types.ts';

/** A host's settings after merging: all.vars < group vars (outer to inner) < host settings. */
export interface MergedHost {
  name: string;
  groups: readonly string[];
  settings: MergedSettings;
}

/** What a host sees of its own settings and its groups' vars, read like a Map. The groups'
 *  layer is shared by every host of the same groups, so a host costs only its own settings. */
export class MergedSettings implements Settings {
  constructor(
    private readonly own: Settings,
    private readonly inherited: Settings,
  ) {}

  get(key: string): Setting | undefined {
    return this.own.get(key) ?? this.inherited.get(key);
  }

  has(key: string): boolean {
    return this.own.has(key) || this.inherited.has(key);
  }

  /** In the order a Map merged group by group would have: a key keeps its first place. */
  forEach(f: (setting: Setting, key: string) => void): void {
    this.inherited.forEach((s, k) => {
      f(this.own.get(k) ?? s, k);
    });
    this.own.forEach((s, k) => {
      if (!this.inherited.has(k)) f(s, k);
    });
  }
}

/** Merges hosts' settings over their groups' vars; hosts in the same groups share one merge. */
export function hostMerger(tree: InventoryTree, depths = groupDepths(tree)): (name: string) => MergedHost {
  // A host's groups follow from the groups it is listed in: most hosts are listed in one.
  const byGroup = new Map<string, GroupLayer>();
  const byGroupList = new Map<string, GroupLayer>();
  const layerOf = (name: string, listedIn: HostOccurrence[]) => {
    const cache = listedIn.length === 1 ? byGroup : byGroupList;
    const key = listedIn.length === 1 ? listedIn[0].group : JSON.stringify(listedIn.map((o) => o.group));
    const cached = cache.get(key);
    if (cached) return cached;
    const layer = groupLayer(tree, name, depths);
    cache.set(key, layer);
    return layer;
  };
  return (name) => {
    const host = tree.hosts.get(name)!;
    const { groups, inherited } = layerOf(name, host.occurrences);
    return { name, groups, settings: new MergedSettings(host.settings, inherited) };
  };
}

interface GroupLayer {
  /** Shared by the hosts of these groups, so frozen. */
  groups: readonly string[];
  inherited: Settings;
}

/** A host's groups ordered like Ansible's variable precedence (by depth below `all`, then by
 *  name), and their vars merged in that order. */
function groupLayer(tree: InventoryTree, host: string, depths: Map<string, number>): GroupLayer {
  const groups = [...groupsOfHost(tree, host)].sort(
    (a, b) => (depths.get(a) ?? 0) - (depths.get(b) ?? 0) || (a === b ? 0 : a < b ? -1 : 1),
  );
  const inherited = new Map<string, Setting>();
  for (const g of groups) for (const [k, s] of tree.groups.get(g)!.vars) inherited.set(k, s);
  return { groups: Object.freeze(groups), inherited };
}

/** The setting when it has the type the schema asks for; a wrong-typed one was already reported. */
export function setting<T>(
  settings: { get(key: string): Setting | undefined },
  key: string,
  valid: (v: unknown) => v is T,
): (Setting & { value: T }) | undefined {
  const s = settings.get(key);
  return s && valid(s.value) ? (s as Setting & { value: T }) : undefined;
}

/** Variables inventoryTemplateVars provides itself. */
const RESERVED_VARS = ['inventory_hostname', 'ramster'];

export const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
export const isInteger = (v: unknown): v is number => Number.isInteger(v);
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const isConnection = (v: unknown): v is Connection => v === 'ssh' || v === 'local' || v === 'chroot';

export function buildHost(merged: MergedHost, source: YamlSource, problems: Diagnostic[]): HostEntry {
  const s = merged.settings;
  const str = (k: string) => setting(s, k, isString)?.value;
  const port = setting(s, 'port', isInteger)?.value;
  const connection = setting(s, 'connection', isConnection);
  const root = str('root');
  if (connection?.value === 'chroot' && root === undefined && !s.has('root')) {
    problems.push(
      source.diag(
        connection.path,
        `host \`${merged.name}\` uses connection chroot but has no \`root\``,
        "add `root: <directory>`: the directory that is the host's `/`",
      ),
    );
  }
  const vars: Record<string, unknown> = {};
  s.forEach((entry, k) => {
    if (SETTING_NAMES.has(k)) return;
    if (RESERVED_VARS.includes(k)) {
      problems.push(
        source.diag(
          entry.path,
          `\`${k}\` cannot be a host variable: ramster-provision sets it for playbooks`,
          k === 'ramster'
            ? 'cluster settings go in a `ramster:` section of a group (next to its `hosts:`), not in host settings or vars'
            : `rename the variable`,
          true,
        ),
      );
    } else vars[k] = entry.value;
  });
  return {
    name: merged.name,
    address: str('address') ?? merged.name,
    port: port !== undefined && port >= 1 && port <= 65535 ? port : undefined,
    user: str('user'),
    become: setting(s, 'become', isBoolean)?.value ?? false,
    becomePassword: setting(s, 'become_password', (v): v is string => typeof v === 'string')?.value,
    identity: str('identity'),
    sshConfig: str('ssh_config'),
    connection: connection?.value ?? 'ssh',
    root,
    groups: merged.groups,
    vars,
  };
}
