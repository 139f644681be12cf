import type { Inventory } from '../inventory/types.ts';

/** Hosts matched by an Ansible-style pattern: `all`, `*`, group or host names (globs with
 *  `*`), separated by `,` or `:`; `!x` excludes and `&x` intersects. Order follows the inventory. */
export function matchHosts(inv: Inventory, pattern: string): string[] {
  const all = [...inv.hosts.keys()];
  const expand = (term: string): Set<string> => {
    if (term === 'all' || term === '*') return new Set(all);
    const re = new RegExp(`^${term.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    return new Set(all.filter((h) => re.test(h) || inv.hosts.get(h)!.groups.some((g) => re.test(g))));
  };
  let selected = new Set<string>();
  const terms = pattern
    .split(/[,:]/)
    .map((t) => t.trim())
    .filter(Boolean);
  for (const term of terms.filter((t) => !t.startsWith('!') && !t.startsWith('&')))
    for (const h of expand(term)) selected.add(h);
  for (const term of terms.filter((t) => t.startsWith('&'))) {
    const keep = expand(term.slice(1));
    selected = new Set([...selected].filter((h) => keep.has(h)));
  }
  for (const term of terms.filter((t) => t.startsWith('!'))) for (const h of expand(term.slice(1))) selected.delete(h);
  return all.filter((h) => selected.has(h));
}
