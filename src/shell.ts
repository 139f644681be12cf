/** The one shell quoter: every value that reaches a POSIX shell goes through it. */
export function shq(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** How a command ended: its exit code, or the signal that killed it (code null or undefined). */
export interface CommandOutcome {
  code?: number | null;
  signal?: string | null;
  stdout?: string;
  stderr?: string;
}

export interface FailureOptions {
  /** Where it ran: "X failed on <on> (exit N)". */
  on?: string;
  /** Lines kept from the end of the output (default 10; Infinity keeps all). */
  lines?: number;
  /** The output to show instead of stderr (stdout when stderr is blank), e.g. interleaved output. */
  output?: string;
  /** The command or its output may carry a secret: no output is shown. */
  sensitive?: boolean;
}

/** The last `lines` lines of `text`, trimmed. */
export function outputTail(text: string, lines: number): string {
  const all = text.trim();
  if (lines <= 0) return '';
  return Number.isFinite(lines) ? all.split('\n').slice(-lines).join('\n') : all;
}

/** The one command-failure message: "<what> failed[ on <host>] (exit N | signal SIG)", then the
 *  tail of its output (after ": " when one line, on the next lines when several). The text
 *  still goes through the redactor where it is reported; `sensitive` keeps the output out. */
export function commandFailed(what: string, r: CommandOutcome, opts: FailureOptions = {}): string {
  const status = r.code == null && r.signal ? `signal ${r.signal}` : `exit ${r.code ?? 'unknown'}`;
  const tail = opts.sensitive ? '' : outputTail(opts.output ?? (r.stderr?.trim() || r.stdout || ''), opts.lines ?? 10);
  const detail = !tail ? '' : tail.includes('\n') ? `:\n${tail}` : `: ${tail}`;
  return `${what} failed${opts.on ? ` on ${opts.on}` : ''} (${status})${detail}`;
}
