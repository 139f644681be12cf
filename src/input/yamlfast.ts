import yaml from 'js-yaml';

/**
 * The document's value by js-yaml (YAML 1.2 core schema, `<<` merge keys, `!sensitive`), or
 * undefined when js-yaml refuses it or it is not a finite tree of reasonable size once its
 * aliases are expanded: the caller then parses it the located way, which says where and why.
 */
export function fastParse(
  text: string,
  limits: { maxDepth: number; maxExpandedValues: number },
): { value: unknown; secrets: string[] } | undefined {
  const secrets: string[] = [];
  const sensitive = new yaml.Type('!sensitive', {
    kind: 'scalar',
    construct: (data: unknown) => {
      const value = data === null || data === undefined ? '' : String(data);
      if (value !== '') secrets.push(value);
      return value;
    },
  });
  // On a mapping or a list, every leaf value (at any depth) is a secret.
  const leaves = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(leaves);
    else if (v && typeof v === 'object') Object.values(v).forEach(leaves);
    else if (v !== null && v !== undefined && String(v) !== '') secrets.push(String(v));
  };
  const sensitiveCollection = (kind: 'mapping' | 'sequence') =>
    new yaml.Type('!sensitive', {
      kind,
      construct: (data: unknown) => {
        leaves(data);
        return data ?? (kind === 'mapping' ? {} : []);
      },
    });
  const { merge } = (yaml as unknown as { types: { merge: yaml.Type } }).types;
  const schema = yaml.CORE_SCHEMA.extend({
    implicit: [merge],
    explicit: [sensitive, sensitiveCollection('mapping'), sensitiveCollection('sequence')],
  });
  let value: unknown;
  try {
    value = yaml.load(text, { schema, maxDepth: limits.maxDepth, maxTotalMergeKeys: -1 } as yaml.LoadOptions);
  } catch {
    return undefined;
  }
  // js-yaml may construct a tagged scalar more than once.
  return expandedSize(value, limits) === undefined ? undefined : { value, secrets: [...new Set(secrets)] };
}

/** How many values a walk over `root` visits (aliases yield shared objects, each counted every
 *  time it is reached); undefined for a cycle, too many values, or nesting too deep once
 *  aliases are expanded. Linear in the number of distinct objects. */
function expandedSize(
  root: unknown,
  { maxDepth, maxExpandedValues: max }: { maxDepth: number; maxExpandedValues: number },
): number | undefined {
  const seen = new Map<object, Measure>();
  const open = new Set<object>();
  const visit = (v: unknown, depth: number): Measure => {
    if (v === null || typeof v !== 'object') return SCALAR;
    const known = seen.get(v);
    if (known) return depth + known.height > maxDepth ? TOO_BIG : known;
    if (open.has(v) || depth >= maxDepth) return TOO_BIG;
    // Most objects (every host) hold only scalars: counted without being remembered, which is
    // safe, as walking one again costs no more than the values it adds to the count.
    const scalars = scalarsOnly(v);
    if (scalars >= 0) return { size: 1 + scalars, height: scalars > 0 ? 1 : 0 };
    open.add(v);
    let size = 1;
    let height = 0;
    for (const key in v) {
      const c = visit((v as Record<string, unknown>)[key], depth + 1);
      size += c.size;
      height = Math.max(height, c.height + 1);
      if (size > max) break;
    }
    open.delete(v);
    const result = { size, height };
    seen.set(v, result);
    return result;
  };
  const { size } = visit(root, 0);
  return size > max ? undefined : size;
}

interface Measure {
  size: number;
  height: number;
}

/** How many values `v` holds when none is a mapping or a list, else -1. */
function scalarsOnly(v: object): number {
  let n = 0;
  for (const key in v) {
    const child = (v as Record<string, unknown>)[key];
    if (child !== null && typeof child === 'object') return -1;
    n++;
  }
  return n;
}

const SCALAR: Measure = { size: 1, height: 0 };
const TOO_BIG: Measure = { size: Infinity, height: Infinity };
