import type { CST } from 'yaml';

/** Offset of the first mapping or list nested deeper than `max` levels, found without
 *  recursion (yaml's composer would overflow the stack on such input). */
export function tooDeepAt(tokens: CST.Token[], max: number): number | undefined {
  const stack: [CST.Token | null | undefined, number][] = tokens.map((t) => [t, 0]);
  while (stack.length) {
    const [token, depth] = stack.pop()!;
    if (!token) continue;
    if (token.type === 'document') stack.push([token.value, depth]);
    else if (token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection') {
      if (depth + 1 > max) return token.offset;
      for (const item of token.items as CST.CollectionItem[])
        stack.push([item.key, depth + 1], [item.value, depth + 1]);
    }
  }
  return undefined;
}

export interface IndentationProblem {
  line: number;
  col: number;
  message: string;
  hint: string;
}

const KEY_LINE = /^( *)((?:- +)*)([^\s#'"[{][^#]*?|"[^"]*"|'[^']*'):(?:\s|$)/;

/**
 * When yaml reports an indentation problem, the line it names is often the first correct
 * line after the mis-indented one. This finds the "key:" line whose indentation matches no
 * level of the mapping around it, scanning top-down with a stack of open indentation levels.
 */
export function indentationCulprit(text: string, codes: string[]): IndentationProblem | undefined {
  if (!codes.some((c) => c === 'BAD_INDENT' || c === 'BLOCK_AS_IMPLICIT_KEY' || c === 'MULTILINE_IMPLICIT_KEY'))
    return undefined;
  const levels = [0];
  let opens = false;
  let blockScalarIndent = -1;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].replace(/\r$/, '');
    const content = raw.replace(/(^|\s)#.*$/, '').trimEnd();
    if (!content.trim()) continue;
    const indent = raw.length - raw.trimStart().length;
    if (blockScalarIndent >= 0 && indent > blockScalarIndent) continue;
    blockScalarIndent = -1;
    const key = KEY_LINE.exec(content);
    const dashes = content.slice(indent).match(/^(?:- +)*/)![0].length;
    const top = levels[levels.length - 1];
    if (opens && (indent > top || (indent === top && dashes > 0))) {
      if (indent > top) levels.push(indent);
    } else {
      let popped: number | undefined;
      while (levels.length > 1 && levels[levels.length - 1] > indent) popped = levels.pop();
      const level = levels[levels.length - 1];
      if (level !== indent) {
        if (!key) return undefined; // a continued scalar or flow collection: not ours to judge
        return misindented(key[3].trim(), i + 1, indent, level, popped);
      }
    }
    if (dashes > 0) levels.push(indent + dashes);
    opens = /:$|(?:^|\s)-$/.test(content);
    if (/[:-]\s+[|>][-+0-9]*$/.test(content)) blockScalarIndent = indent;
  }
  return undefined;
}

function misindented(
  name: string,
  line: number,
  indent: number,
  level: number,
  above: number | undefined,
): IndentationProblem {
  const at = { line, col: indent + 1 };
  if (above === undefined) {
    return {
      ...at,
      message: `\`${name}:\` is indented ${indent} spaces, deeper than the keys beside it (${level}), but the line above already has its value`,
      hint: `indent \`${name}:\` like the keys beside it (${level} spaces), or end the line above with \`:\` to nest it there`,
    };
  }
  return {
    ...at,
    message: `\`${name}:\` is indented ${indent} spaces, between the keys above it (${above}) and the level they belong to (${level})`,
    hint: `indent \`${name}:\` by ${above} spaces to keep it with the keys above, or by ${level} to put it one level up`,
  };
}
