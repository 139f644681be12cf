import { readFile } from 'node:fs/promises';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type YAMLMap, type YAMLSeq } from 'yaml';
import type { Diagnostic } from './diagnostics.ts';

export type YamlPath = (string | number)[];

/** A YAML file parsed with positions kept, so any value can be reported as file:line:col. */
export interface YamlSource {
  file: string;
  doc: Document.Parsed;
  value: unknown;
  /** Position of the value at `path` (or of its key when `key` is true); falls back to the
   *  deepest existing ancestor. */
  locate(path: YamlPath, key?: boolean): { line: number; col: number };
  diag(path: YamlPath, message: string, hint?: string, key?: boolean): Diagnostic;
  /** Values tagged `!sensitive`: usable like any string, never printed (see report/redact.ts). */
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

export function parseYamlText(file: string, text: string): { source?: YamlSource; errors: Diagnostic[] } {
  const lc = new LineCounter();
  const secrets: string[] = [];
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
    } else if (isMap(node)) node.items.forEach((pair) => leaves(pair.value));
    else if (isSeq(node)) node.items.forEach(leaves);
  };
  const sensitiveCollection = (collection: 'map' | 'seq') => ({
    tag: '!sensitive',
    collection,
    resolve: (node: YAMLMap.Parsed | YAMLSeq.Parsed) => {
      leaves(node);
      return node;
    },
  });
  const customTags = [sensitive, sensitiveCollection('map'), sensitiveCollection('seq')];
  const doc = parseDocument(text, { lineCounter: lc, keepSourceTokens: false, uniqueKeys: true, prettyErrors: false, customTags });
  const errors: Diagnostic[] = doc.errors.map((e) => {
    const pos = e.linePos?.[0] ?? lc.linePos(e.pos[0]);
    const msg = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    const hint = /end with a [}\]]/.test(msg) ? 'a { or [ opened above is not closed: add the closing bracket' : (YAML_HINTS[e.code] ?? 'fix the YAML syntax at this position');
    return { file, line: pos.line, col: pos.col, message: `YAML: ${msg}`, hint };
  });
  if (errors.length) return { errors };
  const pos = (offset: number) => {
    const p = lc.linePos(offset);
    return { line: p.line, col: p.col };
  };
  const locate = (path: YamlPath, key = false) => {
    let node: unknown = doc.contents;
    let best = node as Node | null;
    let keyNode: Node | null = null;
    for (const seg of path) {
      keyNode = null;
      if (isMap(node)) {
        const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg));
        if (!pair) break;
        keyNode = pair.key as Node;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
      } else break;
      if (node && (node as Node).range) best = node as Node;
      else if (keyNode) best = keyNode;
    }
    const target = key && keyNode ? keyNode : best;
    return target?.range ? pos(target.range[0]) : { line: 1, col: 1 };
  };
  return {
    errors,
    source: {
      file,
      doc,
      value: doc.toJS({ maxAliasCount: 100 }),
      locate,
      diag: (path, message, hint, key) => ({ file, ...locate(path, key), message, hint }),
      secrets,
    },
  };
}

export async function loadYamlFile(file: string): Promise<{ source?: YamlSource; errors: Diagnostic[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { errors: [{ file, line: 1, col: 1, message: code === 'ENOENT' ? 'file not found' : `cannot read file (${code})`, hint: 'check the path given on the command line' }] };
  }
  return parseYamlText(file, text);
}
