/** The one shell quoter: every value that reaches a POSIX shell goes through it. */
export function shq(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
