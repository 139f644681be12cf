/** Replaces every secret (become passwords, `!sensitive` values) in text bound for a
 *  terminal, a log or JSON. Longest first, so a secret containing another is fully hidden. */
export const MASK = '********';

export type Redactor = <T>(value: T) => T;

export function makeRedactor(secrets: string[]): Redactor {
  const list = [...new Set(secrets.filter((s) => s.length > 0))].sort((a, b) => b.length - a.length);
  const text = (s: string) => list.reduce((acc, secret) => acc.split(secret).join(MASK), s);
  const deep = (v: unknown): unknown => {
    if (typeof v === 'string') return text(v);
    if (Array.isArray(v)) return v.map(deep);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deep(x)]));
    return v;
  };
  return <T,>(value: T) => (list.length ? (deep(value) as T) : value);
}
