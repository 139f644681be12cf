import type { Diagnostic } from '../diagnostics.ts';
import type { YamlSource } from '../yamlsource.ts';
import { HOST_KEYS } from './schema.ts';
import { groupDepths, groupsOfHost, type InventoryTree, type Setting, type Settings } from './tree.ts';
import type { Connection, HostEntry } from './types.ts';

/** A host's settings after merging: all.vars < group vars (outer to inner) < host settings. */
export interface MergedHost {
  name: string;
  groups: string[];
  settings: Settings;
}

/** Groups of a host ordered like Ansible's variable precedence: by depth below `all`, then by name. */
export function mergeHost(tree: InventoryTree, name: string, depths = groupDepths(tree)): MergedHost {
  const groups = [...groupsOfHost(tree, name)].sort((a, b) => (depths.get(a) ?? 0) - (depths.get(b) ?? 0) || (a === b ? 0 : a < b ? -1 : 1));
  const settings: Settings = new Map();
  for (const g of groups) for (const [k, s] of tree.groups.get(g)!.vars) settings.set(k, s);
  for (const [k, s] of tree.hosts.get(name)!.settings) settings.set(k, s);
  return { name, groups, settings };
}

/** The setting when it has the type the schema asks for; a wrong-typed one was already reported. */
export function setting<T>(settings: Settings, key: string, valid: (v: unknown) => v is T): (Setting & { value: T }) | undefined {
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
    problems.push(source.diag(connection.path, `host \`${merged.name}\` uses connection chroot but has no \`root\``, 'add `root: <directory>`: the directory that is the host\'s `/`'));
  }
  const vars: Record<string, unknown> = {};
  for (const [k, { value, path }] of s) {
    if (HOST_KEYS.includes(k)) continue;
    if (RESERVED_VARS.includes(k)) {
      problems.push(source.diag(path, `\`${k}\` cannot be a host variable: ramster-provision sets it for playbooks`, k === 'ramster' ? 'cluster settings go in a `ramster:` section of a group (next to its `hosts:`), not in host settings or vars' : `rename the variable`, true));
    } else vars[k] = value;
  }
  return {
    name: merged.name,
    address: str('address') ?? merged.name,
    port: port !== undefined && port >= 1 && port <= 65535 ? port : 22,
    user: str('user'),
    become: setting(s, 'become', isBoolean)?.value ?? false,
    becomePassword: setting(s, 'become_password', (v): v is string => typeof v === 'string')?.value,
    identity: str('identity'),
    connection: connection?.value ?? 'ssh',
    root,
    groups: merged.groups,
    vars,
  };
}
