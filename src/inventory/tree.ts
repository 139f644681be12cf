import type { Diagnostic } from '../input/diagnostics.ts';
import type { YamlPath, YamlSource } from '../input/yamlsource.ts';
import { readSettings, type Report, type Setting, type Settings } from './settings.ts';

export type { Setting, Settings };

export interface GroupNode {
  name: string;
  /** Every place the group is written (Ansible lets a group appear under several parents). */
  paths: YamlPath[];
  parents: Set<string>;
  children: Set<string>;
  /** Hosts listed directly under this group's `hosts:`. */
  hosts: Set<string>;
  /** The group's `vars`, merged over its occurrences in document order. */
  vars: Map<string, Setting>;
  /** The group's `ramster:` section, if any. */
  cluster?: { section: Record<string, unknown>; path: YamlPath };
}

export interface HostOccurrence {
  group: string;
  path: YamlPath;
}

/** The inventory as a graph of groups and hosts, before any defaults or checks. */
export interface InventoryTree {
  /** In order of first appearance; `all` first. */
  groups: Map<string, GroupNode>;
  /** In order of first appearance. */
  hosts: Map<string, { occurrences: HostOccurrence[]; settings: Settings }>;
}

export function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const NO_SETTINGS: Settings = new Map();

function mergeInto(target: Map<string, Setting>, settings: Settings | undefined): Map<string, Setting> {
  settings?.forEach((s, k) => {
    target.set(k, s);
  });
  return target;
}

/** Reads groups and hosts from whatever parsed; wrong shapes were already reported by the schema. */
export function readTree(source: YamlSource, problems: Diagnostic[]): InventoryTree {
  const tree: InventoryTree = { groups: new Map(), hosts: new Map() };
  const report: Report = (path, message, hint) => problems.push(source.diag(path, message, hint, true));

  const visit = (name: string, value: unknown, path: YamlPath, parent?: string) => {
    let group = tree.groups.get(name);
    if (!group) {
      group = { name, paths: [], parents: new Set(), children: new Set(), hosts: new Set(), vars: new Map() };
      tree.groups.set(name, group);
    }
    group.paths.push(path);
    if (parent) group.parents.add(parent);
    if (!isMapping(value)) return;

    mergeInto(group.vars, readSettings(value.vars, path.concat('vars'), report));
    if (isMapping(value.ramster)) {
      if (group.cluster) {
        const first = source.locate(group.cluster.path, true);
        problems.push(
          source.diag(
            [...path, 'ramster'],
            `group \`${name}\` has a second \`ramster\` section (the first is at line ${first.line})`,
            'a group is one cluster: keep a single `ramster:` section for it, or rename one of the groups',
            true,
          ),
        );
      } else group.cluster = { section: value.ramster, path: [...path, 'ramster'] };
    }
    if (isMapping(value.hosts)) {
      const hosts = value.hosts;
      for (const host of Object.keys(hosts)) {
        const hostPath = path.concat('hosts', host);
        const occurrence = { group: name, path: hostPath };
        const own = readSettings(hosts[host], hostPath, report) ?? NO_SETTINGS;
        const entry = tree.hosts.get(host);
        if (!entry) tree.hosts.set(host, { occurrences: [occurrence], settings: own });
        else {
          // A host listed in several groups: its settings merge in document order.
          entry.occurrences.push(occurrence);
          entry.settings = mergeInto(mergeInto(new Map(), entry.settings), own);
        }
        group.hosts.add(host);
      }
    }
    if (isMapping(value.children)) {
      for (const [child, childValue] of Object.entries(value.children)) {
        group.children.add(child);
        visit(child, childValue, [...path, 'children', child], name);
      }
    }
  };

  if (isMapping(source.value) && 'all' in source.value) visit('all', source.value.all, ['all']);
  reportCycles(tree, source, problems);
  return tree;
}

/** A group that is (through `children:`) its own sub-group would make membership infinite. */
function reportCycles(tree: InventoryTree, source: YamlSource, problems: Diagnostic[]): void {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const walk = (name: string) => {
    state.set(name, 'open');
    stack.push(name);
    const group = tree.groups.get(name)!;
    for (const child of group.children) {
      if (state.get(child) === 'open') {
        const loop = [...stack.slice(stack.indexOf(child)), child].map((g) => `\`${g}\``).join(' → ');
        const where = tree.groups
          .get(child)!
          .paths.find((p) => p[p.length - 2] === 'children' && String(p[p.length - 3]) === name) ?? [
          ...group.paths[0],
          'children',
          child,
        ];
        problems.push(
          source.diag(
            where,
            `group \`${child}\` contains itself: ${loop}`,
            `remove \`${child}\` from the \`children\` of group \`${name}\``,
            true,
          ),
        );
        group.children.delete(child);
      } else if (!state.has(child)) walk(child);
    }
    stack.pop();
    state.set(name, 'done');
  };
  if (tree.groups.has('all')) walk('all');
}

/** The group and all groups below it. */
export function descendants(tree: InventoryTree, name: string): Set<string> {
  const out = new Set<string>();
  const walk = (g: string) => {
    if (out.has(g)) return;
    out.add(g);
    for (const c of tree.groups.get(g)?.children ?? []) walk(c);
  };
  walk(name);
  return out;
}

/** The groups above `name` (through `parents`), not counting itself unless in a cycle. */
export function ancestors(tree: InventoryTree, name: string): Set<string> {
  const out = new Set<string>();
  const stack = [...(tree.groups.get(name)?.parents ?? [])];
  while (stack.length) {
    const g = stack.pop()!;
    if (out.has(g)) continue;
    out.add(g);
    stack.push(...(tree.groups.get(g)?.parents ?? []));
  }
  return out;
}

/** Longest distance from `all`: Ansible's group depth, which orders variable precedence. */
export function groupDepths(tree: InventoryTree): Map<string, number> {
  const depth = new Map<string, number>();
  const order = [...tree.groups.keys()];
  // Cycles were cut by reportCycles, so relaxing edges |groups| times reaches the fixpoint.
  depth.set('all', 0);
  for (let round = 0, changed = true; changed && round < order.length; round++) {
    changed = false;
    for (const g of order) {
      const d = depth.get(g);
      if (d === undefined) continue;
      for (const c of tree.groups.get(g)!.children) {
        if ((depth.get(c) ?? -1) < d + 1) {
          depth.set(c, d + 1);
          changed = true;
        }
      }
    }
  }
  return depth;
}

/** Every group a host belongs to, directly or through sub-groups. */
export function groupsOfHost(tree: InventoryTree, host: string): Set<string> {
  const out = new Set<string>();
  const up = (g: string) => {
    if (out.has(g)) return;
    out.add(g);
    for (const p of tree.groups.get(g)?.parents ?? []) up(p);
  };
  for (const occ of tree.hosts.get(host)?.occurrences ?? []) up(occ.group);
  return out;
}
