import {
  Composer,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  Parser,
  type Document,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import type { Diagnostic } from './diagnostics.ts';
import { fastParse } from './yamlfast.ts';
import { readInputFile } from './inputfile.ts';
import { tooDeepAt, indentationCulprit } from './yamlshape.ts';
import { plainValue, type Origin, type PlainValue } from './yamlvalue.ts';

export type YamlPath = (string | number)[];

/** Deepest nesting of mappings and lists accepted (an inventory needs about 20 levels). */
export const MAX_NESTING = 100;

/** A YAML file parsed with positions kept, so any value can be reported as file:line:col. */
export interface YamlSource {
  file: string;
  doc: Document.Parsed;
  value: unknown;
  /** Position of the value at `path` (or of its key when `key` is true); falls back to the
   *  deepest existing ancestor. Paths go through aliases and `<<` merge keys to where the
   *  value is written. */
  locate(path: YamlPath, key?: boolean): { line: number; col: number };
  /** How a scalar is written in the file (e.g. `99999999999999999999999999`, not 1e+26). */
  written(path: YamlPath): string | undefined;
  diag(path: YamlPath, message: string, hint?: string, key?: boolean): Diagnostic;
  /** Values tagged `!sensitive`: usable like any string, never printed (see redact.ts). */
  secrets: string[];
}

const YAML_HINTS: Record<string, string> = {
  DUPLICATE_KEY: 'each key may appear once in a mapping: remove or rename the repeated key',
  BAD_INDENT: 'indent nested keys consistently with spaces (YAML forbids tabs for indentation)',
  TAB_AS_INDENT: 'replace the tab with spaces',
  MISSING_CHAR: 'a quote or bracket is not closed',
  BLOCK_AS_IMPLICIT_KEY: 'a "key: value" line is probably missing its colon or is mis-indented',
  MULTILINE_IMPLICIT_KEY: 'a key must fit on one line; check for a missing colon above',
  UNEXPECTED_TOKEN: 'check the line for a stray character or a missing space after ":"',
};

/**
 * Parses with js-yaml first (fast, little memory); positions are worked out with the `yaml`
 * package only when a message needs one. Any input js-yaml refuses, or that holds an alias
 * loop or bomb, goes the located way at once, so every error comes with its line and column.
 */
export function parseYamlText(file: string, text: string): { source?: YamlSource; errors: Diagnostic[] } {
  const fast = fastParse(text, { maxDepth: MAX_NESTING, maxExpandedValues: maxExpandedValues(text) });
  if (!fast) return locatedParse(file, text);
  let located: YamlSource | undefined;
  const slow = () => (located ??= locatedParse(file, text).source);
  const locate = (path: YamlPath, key?: boolean) => slow()?.locate(path, key) ?? { line: 1, col: 1 };
  return {
    errors: [],
    source: {
      file,
      // Where js-yaml is more lenient than the `yaml` package (rare), positions are 1:1.
      get doc() {
        return slow()?.doc ?? (parseDocument('') as Document.Parsed);
      },
      value: fast.value,
      locate,
      written: (path) => slow()?.written(path),
      diag: (path, message, hint, key) => ({ file, ...locate(path, key), message, hint }),
      secrets: fast.secrets,
    },
  };
}

const maxExpandedValues = (text: string) => 1_000_000 + 2 * text.length;

/** The same parse with every node's position kept (the `yaml` package): slower, and the
 *  source of every YAML-level error message. */
function locatedParse(file: string, text: string): { source?: YamlSource; errors: Diagnostic[] } {
  const lc = new LineCounter();
  const at = (offset: number, message: string, hint: string): Diagnostic => ({
    file,
    ...lc.linePos(offset),
    message,
    hint,
  });
  const tokens = Array.from(new Parser(lc.addNewLine).parse(text));
  const deep = tooDeepAt(tokens, MAX_NESTING);
  if (deep !== undefined) {
    return {
      errors: [
        at(
          deep,
          `mappings and lists are nested more than ${MAX_NESTING} levels deep here`,
          'an inventory or playbook needs far fewer levels: look for runaway indentation or brackets that are never closed',
        ),
      ],
    };
  }
  const documents = tokens.filter((t) => t.type === 'document');
  const secrets: string[] = [];
  const customTags = sensitiveTags(secrets);
  // Repeated keys are found by plainValue: the composer's own check is quadratic.
  const composer = new Composer({ uniqueKeys: false, customTags });
  const doc = composer
    .compose(tokens.slice(0, documents.length > 1 ? tokens.indexOf(documents[1]) : tokens.length), true, text.length)
    .next().value as Document.Parsed;
  const errors = syntaxErrors(doc, text, lc, at);
  if (documents.length > 1) {
    errors.push(
      at(
        documents[1].offset,
        'the file holds a second YAML document here',
        'an inventory or playbook is one document: remove this `---` line and what follows it, or move that part to a file of its own',
      ),
    );
  }
  if (errors.length) return { errors: sortByPosition(errors) };

  const plain = plainValue(doc, { maxDepth: MAX_NESTING, maxExpandedValues: maxExpandedValues(text) });
  if (plain.problems.length) return { errors: plain.problems.map((p) => at(p.offset, p.message, p.hint)) };
  return { errors: [], source: locatedSource(file, doc, plain, lc, secrets) };
}

/** The `!sensitive` tags, on a scalar, a mapping or a list: each value they mark goes to secrets. */
function sensitiveTags(secrets: string[]) {
  const sensitive = {
    tag: '!sensitive',
    identify: () => false,
    resolve: (value: string) => {
      if (value !== '') secrets.push(value);
      return value;
    },
  };
  // On a mapping or a list, every leaf value (at any depth) is a secret; the node stays as it is.
  const leaves = (node: unknown): void => {
    if (isScalar(node)) {
      if (node.value !== null && String(node.value) !== '') secrets.push(String(node.value));
    } else if (isMap(node)) {
      for (const pair of node.items) leaves(pair.value);
    } else if (isSeq(node)) node.items.forEach(leaves);
  };
  const sensitiveCollection = (collection: 'map' | 'seq') => ({
    tag: '!sensitive',
    collection,
    resolve: (node: YAMLMap.Parsed | YAMLSeq.Parsed) => {
      leaves(node);
      return node;
    },
  });
  return [sensitive, sensitiveCollection('map'), sensitiveCollection('seq')];
}

/** The parsed document as a YamlSource: its value, and where each of its paths is written. */
function locatedSource(
  file: string,
  doc: Document.Parsed,
  plain: PlainValue,
  lc: LineCounter,
  secrets: string[],
): YamlSource {
  const walk = walker(doc, plain.value, plain.origins);
  const locate = (path: YamlPath, key = false) => {
    const { best, keyNode } = walk(path);
    const target = key && keyNode ? keyNode : best;
    return target?.range ? lc.linePos(target.range[0]) : { line: 1, col: 1 };
  };
  const written = (path: YamlPath) => {
    const { best, found } = walk(path);
    return found && isScalar(best) && typeof best.source === 'string' ? best.source : undefined;
  };
  const diag = (path: YamlPath, message: string, hint?: string, key?: boolean) => ({
    file,
    ...locate(path, key),
    message,
    hint,
  });
  return { file, doc, value: plain.value, locate, written, diag, secrets };
}

/** The `yaml` package's errors in the user's words; a mis-indented line is named itself. */
function syntaxErrors(
  doc: Document.Parsed,
  text: string,
  lc: LineCounter,
  at: (offset: number, message: string, hint: string) => Diagnostic,
): Diagnostic[] {
  const culprit = indentationCulprit(
    text,
    doc.errors.map((e) => e.code),
  );
  // Trusted only next to the errors it explains: yaml notices a bad indentation a line or two off.
  const indentation =
    culprit && doc.errors.some((e) => Math.abs(lc.linePos(e.pos[0]).line - culprit.line) <= 3) ? culprit : undefined;
  const errors: Diagnostic[] = [];
  for (const e of doc.errors) {
    if (indentation && INDENT_CODES.includes(e.code)) continue;
    const msg = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    const hint = /end with a [}\]]/.test(msg)
      ? 'a { or [ opened above is not closed: add the closing bracket'
      : (YAML_HINTS[e.code] ?? 'fix the YAML syntax at this position');
    errors.push(at(e.pos[0], `YAML: ${msg}`, hint));
  }
  if (indentation)
    errors.push({ ...at(0, indentation.message, indentation.hint), line: indentation.line, col: indentation.col });
  return errors;
}

const INDENT_CODES = ['BAD_INDENT', 'BLOCK_AS_IMPLICIT_KEY', 'MULTILINE_IMPLICIT_KEY'];

function sortByPosition(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => a.line - b.line || a.col - b.col);
}

/** Walks a path through the plain value and the nodes it came from. `best` is the deepest
 *  node found (the value, or its key when the value has no position); `keyNode` the key of
 *  the last segment when the whole path exists. */
function walker(doc: Document.Parsed, root: unknown, origins: WeakMap<object, Map<string, Origin>>) {
  return (path: YamlPath) => {
    let value = root;
    let best = doc.contents as Origin['value'];
    let keyNode: Origin['key'] = null;
    let found = true;
    for (const seg of path) {
      keyNode = null;
      const origin = value !== null && typeof value === 'object' ? origins.get(value)?.get(String(seg)) : undefined;
      if (!origin) {
        found = false;
        break;
      }
      keyNode = origin.key;
      value = (value as Record<string, unknown>)[seg];
      if (origin.value?.range) best = origin.value;
      else if (keyNode) best = keyNode;
    }
    return { best, keyNode, found };
  };
}

export async function loadYamlFile(file: string): Promise<{ source?: YamlSource; errors: Diagnostic[] }> {
  const read = await readInputFile(file);
  if ('error' in read) return { errors: [read.error] };
  return parseYamlText(file, read.text);
}
