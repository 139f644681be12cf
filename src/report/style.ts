/** ANSI styling, only when the stream is a TTY and neither NO_COLOR nor --no-color is set. */
export interface Style {
  enabled: boolean;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

export function makeStyle(stream: NodeJS.WriteStream, noColor = false): Style {
  const enabled =
    Boolean(stream.isTTY) && !noColor && process.env.NO_COLOR === undefined && process.env.TERM !== 'dumb';
  const wrap = (code: number, reset: number) => (s: string) => (enabled ? `\x1b[${code}m${s}\x1b[${reset}m` : s);
  return {
    enabled,
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    cyan: wrap(36, 39),
    dim: wrap(2, 22),
    bold: wrap(1, 22),
  };
}

export function colorDiff(diff: string, st: Style): string {
  return diff
    .split('\n')
    .map((l) =>
      l.startsWith('+++') || l.startsWith('---')
        ? st.bold(l)
        : l.startsWith('+')
          ? st.green(l)
          : l.startsWith('-')
            ? st.red(l)
            : l.startsWith('@@')
              ? st.cyan(l)
              : l,
    )
    .join('\n');
}
