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
  const converter = new PlainConverter(limits);
  const result = converter.convert(doc.contents, 0);
  return { value: result.value, origins: converter.origins, problems: converter.problems };
}

/** plainValue's one pass: the anchors seen so far, the values they stand for, the problems. */
class PlainConverter {
  readonly origins = new WeakMap<object, Map<string, Origin>>();
  readonly problems: ValueProblem[] = [];
  private readonly anchors = new Map<string, Node>();
  private readonly done = new Map<Node, Converted>();
  private readonly open = new Set<Node>();
  private expanded = 0;
  private bombReported = false;

  constructor(private readonly limits: { maxDepth: number; maxExpandedValues: number }) {}

  private problem(node: Node, message: string, hint: string): Converted {
    this.problems.push({ offset: node.range?.[0] ?? 0, message, hint });
    return FAILED;
  }

  convert(node: unknown, level: number): Converted {
    if (!node) return NOTHING;
    if (isAlias(node)) return this.alias(node, level);
    const n = node as Node;
    if (n.anchor) this.anchors.set(n.anchor, n);
    let result: Converted;
    this.open.add(n);
    if (isMap(n)) result = this.mapping(n, level);
    else if (isSeq(n)) result = this.list(n, level);
    else result = { value: isScalar(n) ? n.value : null, size: 1, depth: 0 };
    this.open.delete(n);
    if (n.anchor) this.done.set(n, result);
    return result;
  }

  private alias(node: Node & { source: string }, level: number): Converted {
    const { limits } = this;
    const target = this.anchors.get(node.source);
    const name = node.source;
    if (!target)
      return this.problem(
        node,
        `the alias \`*${name}\` refers to no anchor: \`&${name}\` is not defined above it`,
        `define the value once with \`&${name}\` before its first use, or correct the name`,
      );
    if (this.open.has(target))
      return this.problem(
        node,
        `the alias \`*${name}\` is inside the value \`&${name}\` it refers to, which would make it infinite`,
        `an alias can only stand for a value that ends before it: write the values out instead`,
      );
    const found = this.done.get(target)!;
    if (level + found.depth > limits.maxDepth)
      return this.problem(
        node,
        `the alias \`*${name}\` nests values deeper than ${limits.maxDepth} levels`,
        'write the values out, or use fewer aliases inside each other',
      );
    this.expanded += found.size;
    if (this.expanded > limits.maxExpandedValues) {
      if (this.bombReported) return FAILED;
      this.bombReported = true;
      return this.problem(
        node,
        `aliases make this file stand for more than ${limits.maxExpandedValues.toLocaleString('en-US')} values (an "alias bomb")`,
        `write the values out, or stop nesting aliases of aliases such as \`*${name}\``,
      );
    }
    return found;
  }

  private list(node: Node & { items: unknown[] }, level: number): Converted {
    const value: unknown[] = [];
    const where = new Map<string, Origin>();
    let size = 1;
    let depth = 0;
    node.items.forEach((item, i) => {
      const c = this.convert(item, level + 1);
      value.push(c.value);
      where.set(String(i), { key: null, value: (item as Node) ?? null });
      size += c.size;
      depth = Math.max(depth, c.depth);
    });
    this.origins.set(value, where);
    return { value, size, depth: depth + 1 };
  }

  private mapping(node: Node & { items: { key: unknown; value: unknown }[] }, level: number): Converted {
    const value: Record<string, unknown> = {};
    const where = new Map<string, Origin>();
    let size = 1;
    let depth = 0;
    const own = new Set(node.items.filter((p) => !isMergeKey(p.key)).map((p) => this.keyText(p.key)));
    const seen = new Set<string>();
    const set = (k: string, v: unknown, origin: Origin) => {
      if (k === '__proto__')
        Object.defineProperty(value, k, { value: v, enumerable: true, writable: true, configurable: true });
      else value[k] = v;
      where.set(k, origin);
    };
    for (const pair of node.items) {
      const c = this.convert(pair.value, level + 1);
      size += c.size;
      depth = Math.max(depth, c.depth);
      if (isMergeKey(pair.key)) {
        if (c !== FAILED) this.merge(pair, c.value, (k) => !own.has(k) && !where.has(k), set);
        continue;
      }
      if (pair.key !== null && typeof pair.key === 'object' && !isScalar(pair.key) && !isAlias(pair.key)) {
        this.problem(
          pair.key as Node,
          'a key must be a name, not a list or a mapping',
          'write the key as plain text, e.g. `address:`',
        );
        continue;
      }
      const k = this.keyText(pair.key);
      if (seen.has(k)) {
        this.problem(
          pair.key as Node,
          'YAML: Map keys must be unique',
          'each key may appear once in a mapping: remove or rename the repeated key',
        );
        continue;
      }
      seen.add(k);
      set(k, c.value, { key: (pair.key as Node) ?? null, value: (pair.value as Node) ?? null });
    }
    this.origins.set(value, where);
    return { value, size, depth: depth + 1 };
  }

  /** A `<<` key: the keys of the mappings its value stands for, where wanted says so. */
  private merge(
    pair: { key: unknown; value: unknown },
    merged: unknown,
    wanted: (k: string) => boolean,
    set: (k: string, v: unknown, origin: Origin) => void,
  ): void {
    for (const source of mergeSources(pair.value, merged)) {
      if (!source) {
        this.problem(
          (pair.value as Node) ?? (pair.key as Node),
          '`<<` merges mappings, but its value is not a mapping (or a list of mappings)',
          'write `<<: *name` where `&name` is on a mapping, e.g. `defaults: &defaults {user: root}`',
        );
        continue;
      }
      const from = this.origins.get(source);
      for (const [k, v] of Object.entries(source)) if (wanted(k)) set(k, v, from?.get(k) ?? { key: null, value: null });
    }
  }

  /** A key's text; an alias key stands for its anchor's text. */
  private keyText(key: unknown): string {
    const k = isAlias(key) ? this.anchors.get(key.source) : key;
    const v = isScalar(k) ? k.value : k;
    return v === null || v === undefined ? '' : String(v);
  }
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
