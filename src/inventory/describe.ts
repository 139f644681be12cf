import type { YamlPath } from '../input/yamlsource.ts';

/** Where a path points in the inventory tree, as words for a message. */
export type Place =
  | { kind: 'root' }
  | { kind: 'group'; group: string }
  | { kind: 'groupKey'; group: string; key: string } // vars/hosts/children/ramster of a group
  | { kind: 'host'; host: string }
  | { kind: 'hostKey'; host: string; key: string }
  | { kind: 'varsKey'; group: string; key: string }
  | { kind: 'clusterKey'; group: string; key: string }
  | { kind: 'nested'; within: Place; rest: YamlPath };

export function placeOf(path: YamlPath): Place {
  if (path.length === 0) return { kind: 'root' };
  let group = String(path[0]);
  let i = 1;
  // Inside a group, paths go <section> <name|key> [...]; descend through children.
  while (i < path.length) {
    const section = String(path[i]);
    const name = path[i + 1];
    if (name === undefined) return { kind: 'groupKey', group, key: section };
    const rest = path.slice(i + 2);
    if (section === 'children') {
      group = String(name);
      i += 2;
      continue;
    }
    const place: Place =
      section === 'hosts'
        ? rest.length
          ? { kind: 'hostKey', host: String(name), key: String(rest[0]) }
          : { kind: 'host', host: String(name) }
        : section === 'vars'
          ? { kind: 'varsKey', group, key: String(name) }
          : section === 'ramster'
            ? { kind: 'clusterKey', group, key: String(name) }
            : { kind: 'groupKey', group, key: section };
    const consumed = section === 'hosts' ? 1 : 0;
    return rest.length > consumed ? { kind: 'nested', within: place, rest: rest.slice(consumed) } : place;
  }
  return { kind: 'group', group };
}

/** "`port` of host `node1`", "group `lab`", "the `ramster` section of group `lab`" … */
export function describePlace(place: Place): string {
  switch (place.kind) {
    case 'root':
      return 'the inventory';
    case 'group':
      return `group \`${place.group}\``;
    case 'groupKey':
      return place.key === 'ramster'
        ? `the \`ramster\` section of group \`${place.group}\``
        : `\`${place.key}\` of group \`${place.group}\``;
    case 'host':
      return `host \`${place.host}\``;
    case 'hostKey':
      return `\`${place.key}\` of host \`${place.host}\``;
    case 'varsKey':
      return `\`${place.key}\` in the vars of group \`${place.group}\``;
    case 'clusterKey':
      return `\`ramster.${place.key}\` of group \`${place.group}\``;
    case 'nested':
      return `\`${place.rest.join('.')}\` in ${describePlace(place.within)}`;
  }
}

export function describePath(path: YamlPath): string {
  return describePlace(placeOf(path));
}

/** A short rendering of a value for "(got …)". */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v);
  return String(v);
}
