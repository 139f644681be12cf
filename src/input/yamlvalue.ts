import { isAlias, isMap, isScalar, isSeq, Scalar, type Document, type Node } from 'yaml';

/** Where one key (or list item) of a plain value was written: its key node and value node. */
export interface Origin {
  key: Node | null;
  value: Node | null;
}

/** A problem found while turning YAML nodes into plain values, at a node's start offset. */
export interface ValueProblem {
  offset: number;
  message: string;
  hint: string;
}

export interface PlainValue {
  value: unknown;
  /** For every mapping and list of `value`: where each of its keys or items was written. */
  origins: WeakMap<object, Map<string, Origin>>;
  problems: ValueProblem[];
}

interface Converted {
  value: unknown;
  /** Values it holds once every alias is expanded (what a walk over it visits). */
  size: number;
  /** Nesting levels once every alias is expanded. */
  depth: number;
}

const NOTHING: Converted = { value: null, size: 1, depth: 0 };
/** What a reported node stands for, so no second message follows from the first. */
const FAILED: Converted = { value: null, size: 1, depth: 0 };

/**
 * The document as plain JS values, like yaml's toJS, but in one linear pass that keeps the
 * origin of every key, merges `<<` keys (YAML 1.1, as Ansible users write them), and reports
 * undefined aliases, aliases inside their own anchor, and alias bombs at the alias. Repeated
 * keys are found here too, with a set: the `yaml` package's own check is quadratic.
 * An alias yields the very object of its anchor, so `size` counts what it stands for.
 */
export function plainValue(doc: Document.Parsed, limits: { maxDepth: number; maxExpandedValues: number }): PlainValue {
  const origins = new WeakMap<object, Map<string, Origin>>();
  const problems: ValueProblem[] = [];
  const anchors = new Map<string, Node>();
  const done = new Map<Node, Converted>();
  const open = new Set<Node>();
  let expanded = 0;
  let bombReported = false;

  const problem = (node: Node, message: string, hint: string): Converted => {
    problems.push({ offset: node.range?.[0] ?? 0, message, hint });
    return FAILED;
  };

  const convert = (node: unknown, level: number): Converted => {
    if (!node) return NOTHING;
    if (isAlias(node)) return alias(node, level);
    const n = node as Node;
    if (n.anchor) anchors.set(n.anchor, n);
    let result: Converted;
    open.add(n);
    if (isMap(n)) result = mapping(n, level);
    else if (isSeq(n)) result = list(n, level);
    else result = { value: isScalar(n) ? n.value : null, size: 1, depth: 0 };
    open.delete(n);
    if (n.anchor) done.set(n, result);
    return result;
  };

  const alias = (node: Node & { source: string }, level: number): Converted => {
    const target = anchors.get(node.source);
    const name = node.source;
    if (!target)
      return problem(
        node,
        `the alias \`*${name}\` refers to no anchor: \`&${name}\` is not defined above it`,
        `define the value once with \`&${name}\` before its first use, or correct the name`,
      );
    if (open.has(target))
      return problem(
        node,
        `the alias \`*${name}\` is inside the value \`&${name}\` it refers to, which would make it infinite`,
        `an alias can only stand for a value that ends before it: write the values out instead`,
      );
    const found = done.get(target)!;
    if (level + found.depth > limits.maxDepth)
      return problem(
        node,
        `the alias \`*${name}\` nests values deeper than ${limits.maxDepth} levels`,
        'write the values out, or use fewer aliases inside each other',
      );
    expanded += found.size;
    if (expanded > limits.maxExpandedValues) {
      if (bombReported) return FAILED;
      bombReported = true;
      return problem(
        node,
        `aliases make this file stand for more than ${limits.maxExpandedValues.toLocaleString('en-US')} values (an "alias bomb")`,
        `write the values out, or stop nesting aliases of aliases such as \`*${name}\``,
      );
    }
    return found;
  };

  const list = (node: Node & { items: unknown[] }, level: number): Converted => {
    const value: unknown[] = [];
    const where = new Map<string, Origin>();
    let size = 1;
    let depth = 0;
    node.items.forEach((item, i) => {
      const c = convert(item, level + 1);
      value.push(c.value);
      where.set(String(i), { key: null, value: (item as Node) ?? null });
      size += c.size;
      depth = Math.max(depth, c.depth);
    });
    origins.set(value, where);
    return { value, size, depth: depth + 1 };
  };

  const mapping = (node: Node & { items: { key: unknown; value: unknown }[] }, level: number): Converted => {
    const value: Record<string, unknown> = {};
    const where = new Map<string, Origin>();
    let size = 1;
    let depth = 0;
    const own = new Set(node.items.filter((p) => !isMergeKey(p.key)).map((p) => keyText(p.key)));
    const seen = new Set<string>();
    const set = (k: string, v: unknown, origin: Origin) => {
      if (k === '__proto__')
        Object.defineProperty(value, k, { value: v, enumerable: true, writable: true, configurable: true });
      else value[k] = v;
      where.set(k, origin);
    };
    for (const pair of node.items) {
      const c = convert(pair.value, level + 1);
      size += c.size;
      depth = Math.max(depth, c.depth);
      if (isMergeKey(pair.key)) {
        if (c === FAILED) continue;
        for (const source of mergeSources(pair.value, c.value)) {
          if (!source) {
            problem(
              (pair.value as Node) ?? (pair.key as Node),
              '`<<` merges mappings, but its value is not a mapping (or a list of mappings)',
              'write `<<: *name` where `&name` is on a mapping, e.g. `defaults: &defaults {user: root}`',
            );
            continue;
          }
          const from = origins.get(source);
          for (const [k, v] of Object.entries(source))
            if (!own.has(k) && !where.has(k)) set(k, v, from?.get(k) ?? { key: null, value: null });
        }
        continue;
      }
      if (pair.key !== null && typeof pair.key === 'object' && !isScalar(pair.key) && !isAlias(pair.key)) {
        problem(
          pair.key as Node,
          'a key must be a name, not a list or a mapping',
          'write the key as plain text, e.g. `address:`',
        );
        continue;
      }
      const k = keyText(pair.key);
      if (seen.has(k)) {
        problem(
          pair.key as Node,
          'YAML: Map keys must be unique',
          'each key may appear once in a mapping: remove or rename the repeated key',
        );
        continue;
      }
      seen.add(k);
      set(k, c.value, { key: (pair.key as Node) ?? null, value: (pair.value as Node) ?? null });
    }
    origins.set(value, where);
    return { value, size, depth: depth + 1 };
  };

  /** A key's text; an alias key stands for its anchor's text. */
  const keyText = (key: unknown): string => {
    const k = isAlias(key) ? anchors.get(key.source) : key;
    const v = isScalar(k) ? k.value : k;
    return v === null || v === undefined ? '' : String(v);
  };

  const result = convert(doc.contents, 0);
  return { value: result.value, origins, problems };
}

function isMergeKey(key: unknown): boolean {
  return isScalar(key) && key.value === '<<' && key.type === Scalar.PLAIN;
}

/** The mappings a `<<` value stands for (undefined for each that is not one). */
function mergeSources(node: unknown, value: unknown): (Record<string, unknown> | undefined)[] {
  const isMapping = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isSeq(node) && Array.isArray(value)) return value.map((v) => (isMapping(v) ? v : undefined));
  return [isMapping(value) ? value : undefined];
}
