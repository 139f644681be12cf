import { shq } from './shell.ts';

/** Replaces every secret (become passwords, `!sensitive` values) in text bound for a
 *  terminal, a log or JSON. Longest first, so a secret containing another is fully hidden. */
export const MASK = '********';

export interface Redactor {
  <T>(value: T): T;
  /** Hides `secret` too from now on (a key a step made or read while the run goes on). */
  add(secret: string): void;
}

/** Lines shorter than this of a multi-line secret are not hidden on their own (a `}` or an
 *  empty line would mask half the output); the whole value and longer lines always are. */
const MIN_LINE = 3;

/** The mark of text cut short (see cut()): a secret's beginning right before it is hidden too. */
const CUT = /…/g;

/** `text` cut to `max` characters, ending in the mark the redactor knows. */
export function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Every form a secret takes in our output: itself, each of its lines, and those as they
 *  appear escaped inside JSON text (`{{ map }}` renders JSON) or inside a quoted shell word. */
export function secretForms(secret: string): string[] {
  const parts = [
    secret,
    secret.trim(),
    ...secret
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l.length >= MIN_LINE),
  ];
  const forms = parts.filter(Boolean).flatMap((p) => [p, JSON.stringify(p).slice(1, -1), shq(p).slice(1, -1)]);
  return [...new Set(forms)].filter((f) => f.length > 0);
}

export function makeRedactor(secrets: string[]): Redactor {
  let list: string[] = [];
  const set = (all: string[]) => {
    list = [...new Set(all.filter((s) => s.length > 0).flatMap(secretForms))].sort((a, b) => b.length - a.length);
  };
  const known = [...secrets];
  set(known);
  const text = (s: string) =>
    hideCutPrefixes(
      list.reduce((acc, secret) => acc.split(secret).join(MASK), s),
      list,
    );
  const deep = (v: unknown): unknown => {
    if (typeof v === 'string') return text(v);
    if (Array.isArray(v)) return v.map(deep);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deep(x)]));
    return v;
  };
  const redact = <T>(value: T): T => (list.length ? (deep(value) as T) : value);
  return Object.assign(redact, {
    add(secret: string) {
      if (!secret || known.includes(secret)) return;
      known.push(secret);
      set(known);
    },
  }) as Redactor;
}

/** A summary cut at N characters can end inside a secret: the part before the cut is hidden. */
function hideCutPrefixes(s: string, forms: string[]): string {
  let out = '';
  let from = 0;
  for (const m of s.matchAll(CUT)) {
    let before = s.slice(from, m.index);
    for (const f of forms) {
      let k = Math.min(f.length - 1, before.length);
      while (k > 0 && !before.endsWith(f.slice(0, k))) k--;
      if (k > 0) {
        before = `${before.slice(0, before.length - k)}${MASK}`;
        break;
      }
    }
    out += before + m[0];
    from = m.index + m[0].length;
  }
  return out + s.slice(from);
}
