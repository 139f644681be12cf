/** A problem in a user's file, with where it is and how to fix it. */
export interface Diagnostic {
  file: string;
  line: number; // 1-based
  col: number; // 1-based
  message: string;
  hint?: string;
}

/** Bad input: carries every diagnostic found, so the CLI reports them all at once. */
export class InputError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
    this.name = 'InputError';
  }
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: error: ${d.message}${d.hint ? `\n  hint: ${d.hint}` : ''}`;
}

export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
}
