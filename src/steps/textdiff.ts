import { createTwoFilesPatch } from 'diff';

/** Unified diff between two versions of a host file ('' when equal). Binary content is
 *  summarized instead of diffed. */
export function unifiedDiff(path: string, before: Buffer | string | undefined, after: Buffer | string): string {
  const a = before === undefined ? '' : before.toString();
  const b = after.toString();
  if (a === b) return '';
  if (a.includes('\0') || b.includes('\0')) return `Binary file ${path} differs\n`;
  return createTwoFilesPatch(before === undefined ? '/dev/null' : `a${path}`, `b${path}`, a, b, undefined, undefined, {
    context: 3,
  })
    .split('\n')
    .slice(1) // drop the "====" header line
    .join('\n');
}
