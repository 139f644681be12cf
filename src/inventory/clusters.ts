import type { Diagnostic } from '../input/diagnostics.ts';
import type { YamlPath, YamlSource } from '../input/yamlsource.ts';
import { isInteger, isString, setting, type MergedHost } from './hosts.ts';
import { inventorySchema } from './schema.ts';
import {
  type ClusterNode,
  type ClusterShape,
  type SettingProblem,
  TOPOLOGIES,
  type Topology,
} from '../cluster/model.ts';
import { computeTargets } from '../cluster/topology.ts';
import { MODERN_KEYS, modernSettingProblems, modernSettings } from '../modern/model.ts';
import { ramsterSettingProblems, ramsterSettings } from '../ramster/model.ts';
import { unusableClusterAddress } from './addresses.ts';
import { ancestors, descendants, type GroupNode, type InventoryTree, type Setting } from './tree.ts';
import type { Cluster } from './types.ts';

const HOSTNAME = new RegExp(inventorySchema.$defs.hostVars.properties.hostname.pattern);
const CLUSTER_NAME = new RegExp(inventorySchema.$defs.cluster.properties.cluster.pattern);
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

const isNodeNumber = (v: unknown): v is number => isInteger(v) && v >= 0 && v <= 7;
const isHostname = (v: unknown): v is string => typeof v === 'string' && v.length <= 64 && HOSTNAME.test(v);
const isIPv4 = (v: unknown): v is string => typeof v === 'string' && IPV4.test(v);
/** Hostnames compare without case, like DNS names. */
const hostKey = (hostname: string) => hostname.toLowerCase();
const shortName = (hostname: string) => {
  const dot = hostname.indexOf('.');
  return hostKey(dot < 0 ? hostname : hostname.slice(0, dot));
};
const nodeOf = (host: string, cluster: string) => `host \`${host}\` is a node of cluster \`${cluster}\``;
const list = (xs: readonly (string | number)[]) => xs.map((x) => `\`${x}\``).join(', ');

interface Member {
  host: string;
  /** Where the host is listed inside the cluster's group: errors about the host as a whole point here. */
  at: YamlPath;
  settings: MergedHost['settings'];
  number?: Setting & { value: number };
  hostname?: Setting & { value: string };
  clusterAddress?: { value: string; path: YamlPath; defaulted: boolean };
}

export function buildClusters(
  tree: InventoryTree,
  merged: Map<string, MergedHost>,
  source: YamlSource,
  problems: Diagnostic[],
): Cluster[] {
  return new ClusterBuilder(tree, merged, source, problems).build();
}

/** Finds the clusters of an inventory and reports, at their place in the file, what is wrong. */
class ClusterBuilder {
  private readonly clusterOfHost = new Map<string, { name: string; group: string }>();
  private readonly hostOrder = new Map<string, number>();

  constructor(
    private readonly tree: InventoryTree,
    private readonly merged: Map<string, MergedHost>,
    private readonly source: YamlSource,
    private readonly problems: Diagnostic[],
  ) {
    for (const host of tree.hosts.keys()) this.hostOrder.set(host, this.hostOrder.size);
  }

  private report(path: YamlPath, message: string, hint: string, key = false) {
    this.problems.push(this.source.diag(path, message, hint, key));
  }

  build(): Cluster[] {
    const clusters: Cluster[] = [];
    const clusterGroups = [...this.tree.groups.values()].filter((g) => g.cluster);
    const clusterOrder = new Map(clusterGroups.map((g, i) => [g.name, i]));
    for (const group of clusterGroups) {
      const outerName = [...ancestors(this.tree, group.name)]
        .filter((a) => clusterOrder.has(a))
        .sort((a, b) => clusterOrder.get(a)! - clusterOrder.get(b)!)[0];
      const outer = outerName === undefined ? undefined : this.tree.groups.get(outerName);
      if (outer) {
        this.report(
          group.cluster!.path,
          `group \`${group.name}\` has a \`ramster\` section but is inside group \`${outer.name}\`, which is already a cluster`,
          `a host can be a node of one cluster only: remove one of the two \`ramster:\` sections, or move group \`${group.name}\` out of \`${outer.name}\``,
          true,
        );
        continue;
      }
      clusters.push(this.buildCluster(group));
    }
    this.merged.forEach((host, name) => {
      const target = this.clusterOfHost.has(name) ? undefined : host.settings.get('remote_target');
      if (target)
        this.report(
          target.path,
          `host \`${name}\` has a \`remote_target\` but is not a node of any cluster`,
          'put the host in a group that has a `ramster:` section, or remove `remote_target`',
          true,
        );
    });
    return clusters;
  }

  private buildCluster(group: GroupNode): Cluster {
    const { section, path: sectionPath } = group.cluster!;
    const at = (key: string | undefined): YamlPath =>
      key !== undefined && key in section ? [...sectionPath, key] : sectionPath;
    const name =
      typeof section.cluster === 'string' && CLUSTER_NAME.test(section.cluster) ? section.cluster : group.name;
    const label = `cluster \`${name}\``;
    const topology = TOPOLOGIES.includes(section.topology as Topology) ? (section.topology as Topology) : undefined;
    const members = this.collectMembers(group, name);
    const n = members.length;
    const modern = section.backend === 'modern' ? modernSettings(section) : undefined;
    const problems: SettingProblem[] = modern
      ? modernSettingProblems(modern, n, label)
      : this.legacyOnly(section, label);
    for (const p of problems) this.report(at(p.key), p.message, p.hint, p.atKey);
    this.checkSize(group, label, n, topology);
    this.checkUnique(members, label);
    const explicit = this.resolveTargets(members, label, group.name);
    const numbered = members.filter((m) => m.number);
    const targets = computeTargets(
      numbered.map((m) => m.number!.value),
      topology,
      explicit,
      modern?.replicas ?? 1,
    );
    const nodes: ClusterNode[] = numbered
      .map((m) => ({
        host: m.host,
        hostname: m.hostname?.value ?? m.host,
        number: m.number!.value,
        clusterAddress: m.clusterAddress?.value ?? '',
        targets: targets.get(m.number!.value) ?? [],
      }))
      .sort((a, b) => a.number - b.number);
    const shape: ClusterShape = { name, group: group.name, topology, nodes };
    return modern
      ? { ...shape, backend: 'modern', modern }
      : { ...shape, backend: 'legacy', ramster: ramsterSettings(section) };
  }

  /** Staging RAMster's own rules, and the modern backend's keys named where they mean nothing. */
  private legacyOnly(section: Record<string, unknown>, label: string): SettingProblem[] {
    const problems = ramsterSettingProblems(ramsterSettings(section), section, label);
    if (section.backend !== undefined && section.backend !== 'legacy') return problems;
    const how = section.backend === undefined ? 'the legacy backend (the default)' : 'the legacy backend';
    for (const key of MODERN_KEYS.filter((k) => k in section)) {
      problems.push({
        key,
        message: `\`${key}\` is a setting of the modern backend, but ${label} uses ${how}`,
        hint: `add \`backend: modern\` to use it, or remove \`${key}\``,
        atKey: true,
      });
    }
    return problems;
  }

  private checkSize(group: GroupNode, label: string, n: number, topology: Topology | undefined) {
    const { section, path: sectionPath } = group.cluster!;
    if (n === 0)
      this.report(
        sectionPath,
        `${label} (group \`${group.name}\`) has no hosts`,
        `list the nodes under \`hosts:\` of group \`${group.name}\` or of one of its sub-groups`,
        true,
      );
    if (n > 8)
      this.report(
        sectionPath,
        `${label} has ${n} nodes, more than RAMster's 8`,
        'a cluster has at most 8 nodes (numbers 0 to 7): move some hosts to another group with its own `ramster:` section',
        true,
      );
    if (topology && n > 0 && n < 2)
      this.report(
        'topology' in section ? [...sectionPath, 'topology'] : sectionPath,
        `topology \`${topology}\` needs at least 2 nodes, but ${label} has ${n}`,
        `add a node to group \`${group.name}\`, or remove \`topology\` (a single node borrows from nobody)`,
      );
  }

  private collectMembers(group: GroupNode, name: string): Member[] {
    const inside = descendants(this.tree, group.name);
    const listed: string[] = [];
    for (const g of inside) for (const host of this.tree.groups.get(g)?.hosts ?? []) listed.push(host);
    const hosts = inside.size === 1 ? listed : [...new Set(listed)];
    const members: Member[] = [];
    const membership = { name, group: group.name };
    for (const host of hosts.sort((a, b) => this.hostOrder.get(a)! - this.hostOrder.get(b)!)) {
      const entry = this.tree.hosts.get(host)!;
      const occurrence = entry.occurrences.find((o) => inside.has(o.group))!;
      const previous = this.clusterOfHost.get(host);
      if (previous) {
        this.report(
          occurrence.path,
          `host \`${host}\` is a node of two clusters: \`${previous.name}\` (group \`${previous.group}\`) and \`${name}\` (group \`${group.name}\`)`,
          `a host can be a node of one RAMster cluster only: remove it from group \`${group.name}\` or from group \`${previous.group}\``,
          true,
        );
        continue;
      }
      this.clusterOfHost.set(host, membership);
      members.push(this.newMember(host, occurrence.path, name));
    }
    return members;
  }

  /** A node of cluster name, with its number, hostname and cluster address (each reported when missing or wrong). */
  private newMember(host: string, at: YamlPath, name: string): Member {
    const settings = this.merged.get(host)!.settings;
    const member: Member = {
      host,
      at,
      settings,
      number: setting(settings, 'number', isNodeNumber),
      hostname: setting(settings, 'hostname', isHostname),
    };
    if (!settings.has('number'))
      this.report(
        at,
        `${nodeOf(host, name)} but has no \`number\``,
        'add `number:` with a node number from 0 to 7, different for each node of the cluster',
        true,
      );
    if (!settings.has('hostname'))
      this.report(
        at,
        `${nodeOf(host, name)} but has no \`hostname\``,
        'add `hostname:` with the output of `hostname` on that machine: it names the node in /etc/ramster.conf',
        true,
      );

    const explicitAddress = settings.get('cluster_address');
    if (explicitAddress) {
      if (isIPv4(explicitAddress.value))
        member.clusterAddress = { value: explicitAddress.value, path: explicitAddress.path, defaulted: false };
    } else {
      const address = setting(settings, 'address', isString);
      const value = address?.value ?? host;
      const path = address?.path ?? at;
      if (isIPv4(value)) member.clusterAddress = { value, path, defaulted: true };
      else if (!settings.has('address') || address) {
        this.report(
          path,
          `${nodeOf(host, name)} but its cluster address defaults to ${address ? '`address`' : 'its inventory name'} ${JSON.stringify(value)}, which is not an IPv4 address`,
          'add `cluster_address:` with the IPv4 address the other nodes reach this one at: /etc/ramster.conf needs a dotted quad',
          !address,
        );
      }
    }
    return member;
  }

  private checkUnique(members: Member[], label: string) {
    const byNumber = new Map<number, Member>();
    const byAddress = new Map<string, Member>();
    const byHostname = new Map<string, Member>();
    const byShortName = new Map<string, Member>();
    for (const m of members) {
      if (m.number) {
        const first = byNumber.get(m.number.value);
        if (first)
          this.report(
            m.number.path,
            `node number ${m.number.value} of host \`${m.host}\` is already used by host \`${first.host}\` in ${label}`,
            'every node of a cluster needs its own number from 0 to 7',
          );
        else byNumber.set(m.number.value, m);
      }
      if (m.clusterAddress) this.checkAddress(m, members.length, label, byAddress);
      if (m.hostname) {
        const h = m.hostname.value;
        const key = hostKey(h);
        const short = shortName(h);
        const same = byHostname.get(key);
        const clash = byHostname.get(short) ?? byShortName.get(key);
        if (same && same.hostname!.value !== h) {
          this.report(
            m.hostname.path,
            `hostname \`${h}\` of host \`${m.host}\` differs only in case from \`${same.hostname!.value}\` of host \`${same.host}\` in ${label}`,
            'hostnames do not depend on case, so both would name one machine: give each node its own `hostname` output',
          );
        } else if (same) {
          this.report(
            m.hostname.path,
            `hostname \`${h}\` of host \`${m.host}\` is already used by host \`${same.host}\` in ${label}`,
            "each node's `hostname` is that machine's own `hostname` output, so no two nodes can share one",
          );
        } else if (clash) {
          this.report(
            m.hostname.path,
            `hostname \`${h}\` of host \`${m.host}\` and \`${clash.hostname!.value}\` of host \`${clash.host}\` have the same short name in ${label}`,
            'ramster.conf matches a node by its full or its short hostname, so these two would both match one machine: use distinct short names',
          );
        } else {
          byHostname.set(key, m);
          if (!byShortName.has(short)) byShortName.set(short, m);
        }
      }
    }
  }

  /** A cluster address other nodes can reach, and no other node's. */
  private checkAddress(m: Member, clusterSize: number, label: string, byAddress: Map<string, Member>) {
    const a = m.clusterAddress!;
    const from = a.defaulted ? ` (taken from ${a.path === m.at ? 'its inventory name' : '`address`'})` : '';
    const unusable = unusableClusterAddress(a.value, clusterSize);
    if (unusable) {
      const fix = a.defaulted ? 'add `cluster_address:` with' : 'set `cluster_address` to';
      this.report(
        a.path,
        `cluster address ${a.value} of host \`${m.host}\`${from} is ${unusable}`,
        `${fix} the IPv4 address the other nodes of ${label} reach this node at, e.g. \`cluster_address: 10.0.0.1\``,
        a.path === m.at,
      );
      return;
    }
    const first = byAddress.get(a.value);
    if (first) {
      const hint = a.defaulted
        ? 'the cluster address defaults to `address`; when nodes are reached through one address (e.g. forwarded SSH ports), give each node its own `cluster_address`'
        : 'each node needs its own IPv4 address in /etc/ramster.conf: give each node a different `cluster_address`';
      this.report(
        a.path,
        `cluster address ${a.value} of host \`${m.host}\` is already used by host \`${first.host}\` in ${label}`,
        hint,
        a.path === m.at,
      );
    } else byAddress.set(a.value, m);
  }

  /** Explicit `remote_target`s, as node numbers. Unresolvable ones are reported and left out. */
  private resolveTargets(members: Member[], label: string, groupName: string): Map<number, number> {
    const explicit = new Map<number, number>();
    // Most clusters name no target: their topology chooses.
    if (!members.some((m) => m.settings.has('remote_target'))) return explicit;
    const byHost = new Map(members.map((m) => [m.host, m]));
    const byNumber = new Map<number, Member>();
    const byHostname = new Map<string, Member>();
    for (const m of [...members].reverse()) {
      if (m.number) byNumber.set(m.number.value, m);
      if (m.hostname) byHostname.set(m.hostname.value, m);
    }
    // Built only for a message: listing the other nodes is linear in the cluster's size.
    const choices = (m: Member) => {
      const others = members.filter((o) => o !== m);
      const numbers = others.filter((o) => o.number).map((o) => o.number!.value);
      return others.length
        ? `name another host of ${label} (${list(others.map((o) => o.host))})${numbers.length ? ` or give its node number (${list(numbers)})` : ''}`
        : `${label} has no other node to lend to`;
    };
    for (const m of members) {
      const t = m.settings.get('remote_target');
      if (!t || !(isInteger(t.value) || isString(t.value))) continue;
      const v = t.value;
      const target = isInteger(v) ? byNumber.get(v) : (byHost.get(v) ?? byHostname.get(v));
      if (target === m) {
        this.report(
          t.path,
          `host \`${m.host}\` names itself as \`remote_target\``,
          `a node lends to another node: ${choices(m)}${t.path.includes('vars') ? '; a `remote_target` in group vars applies to every host of the group' : ''}`,
        );
      } else if (!target) {
        const shown = typeof v === 'string' ? `\`${v}\`` : `node number ${v}`;
        const elsewhere =
          typeof v === 'string' && this.tree.hosts.has(v)
            ? ` (host \`${v}\` exists, but outside group \`${groupName}\`)`
            : '';
        const quoted =
          typeof v === 'string' && /^[0-7]$/.test(v) ? `; to mean node number ${v}, write it without quotes` : '';
        this.report(
          t.path,
          `\`remote_target\` of host \`${m.host}\` is ${shown}, which is not a node of ${label}${elsewhere}`,
          `${choices(m)}${quoted}`,
        );
      } else if (m.number && target.number) {
        explicit.set(m.number.value, target.number.value);
      }
    }
    return explicit;
  }
}
