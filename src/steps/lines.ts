/** Line editing that keeps every untouched byte of a file: lines keep their own line ending,
 *  so joining them gives back the original text exactly. */

/** Splits into lines that keep their trailing '\n' (the last one may lack it). */
export function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

/** A line without its line ending. */
export function bare(line: string): string {
  return line.replace(/\r?\n$/, '');
}

/** Decodes a host file for line editing; refuses bytes that would not survive re-encoding. */
export function decodeText(path: string, content: Buffer): string {
  const text = content.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(content)) {
    throw new Error(
      `${path} is not UTF-8 text: editing it line by line could corrupt it (use the file step with the full content instead)`,
    );
  }
  return text;
}

export function userRegex(pattern: string, arg: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch (e) {
    throw new Error(
      `${arg}: invalid regular expression ${JSON.stringify(pattern)}: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`,
    );
  }
}

export type InsertAt = {
  /** Regex, or EOF / BOF. */
  insertafter?: string;
  insertbefore?: string;
};

export const insertAtProperties = {
  insertafter: {
    type: 'string',
    description:
      'Where to insert when not yet present: after the last line matching this regular expression, or EOF (default) / BOF. No match: end of file.',
  },
  insertbefore: {
    type: 'string',
    description:
      'Where to insert when not yet present: before the last line matching this regular expression, or BOF / EOF. No match: end of file.',
  },
} as const;

/** Index in `lines` where new lines go (they are inserted before the line at that index). */
export function insertionIndex(lines: string[], at: InsertAt): number {
  if (at.insertafter !== undefined && at.insertbefore !== undefined)
    throw new Error('give either insertafter or insertbefore, not both');
  const spec = at.insertafter ?? at.insertbefore;
  if (spec === undefined || spec === 'EOF') return lines.length;
  if (spec === 'BOF') return 0;
  const re = userRegex(spec, at.insertafter !== undefined ? 'insertafter' : 'insertbefore');
  let last = -1;
  lines.forEach((l, i) => {
    if (re.test(bare(l))) last = i;
  });
  if (last < 0) return lines.length;
  return at.insertafter !== undefined ? last + 1 : last;
}

/** Inserts whole lines at `index`; a last line lacking its '\n' gets one, since the new
 *  lines now follow it (the only byte added outside the inserted lines). */
export function insertLines(lines: string[], index: number, added: string[]): string[] {
  const out = [...lines];
  if (index > 0 && index === out.length && !out[index - 1].endsWith('\n')) out[index - 1] += '\n';
  out.splice(index, 0, ...added);
  return out;
}
