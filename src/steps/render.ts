import { shq } from '../shell.ts';

/** `{{ name }}` / `{{ a.b.c }}` substitution from variables. Deliberately not a language: no
 *  expressions or eval, so a template can never run code. One filter, `{{ x | quote }}`: the
 *  value as ONE single-quoted shell word (a list: one word per item). `{{ '{{' }}` writes a
 *  literal `{{`. */

const TAG = /\{\{(.*?)\}\}/g;
const FILTER = /^(.*?)\s*\|\s*([A-Za-z_]\w*)$/;
/** A value that is one shell word as it stands: no quoting, expansion or operator in it. */
const PLAIN_WORD = /^[A-Za-z0-9_@%+=:,./-]*$/;
const NAME = /^[A-Za-z_][\w-]*(?:\.(?:[A-Za-z_][\w-]*|\d+))*$/;
const LITERAL = /^(?:'([^']*)'|"([^"]*)")$/;

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** Renders `text`; `where` names the template in messages (a file, or a playbook position).
 *  Every unknown variable and malformed tag is reported at once, with its template line. */
export interface RenderOptions {
  /** The text is a shell command: a value inserted without `| quote` must be a plain word. */
  shell?: boolean;
}

export function renderTemplate(
  text: string,
  vars: Record<string, unknown>,
  where: string,
  opts: RenderOptions = {},
): string {
  const problems: string[] = [];
  const out = text.replace(TAG, (tag: string, inner: string, offset: number) => {
    const filtered = FILTER.exec(inner.trim());
    const expr = (filtered ? filtered[1] : inner).trim();
    const at = () => templateLine(text, offset);
    if (filtered && filtered[2] !== 'quote') {
      problems.push(
        `${at()}: unknown filter '${filtered[2]}' in "${tag}" (the one filter is quote: {{ name | quote }})`,
      );
      return tag;
    }
    const quote = Boolean(filtered);
    const literal = LITERAL.exec(expr);
    if (literal) return quote ? shq(literal[1] ?? literal[2]) : (literal[1] ?? literal[2]);
    if (!NAME.test(expr)) {
      problems.push(
        `${at()}: "${tag}" is not a variable reference (only {{ name }} and {{ a.b.c }} are supported, no expressions)`,
      );
      return tag;
    }
    const found = lookup(vars, expr);
    if (!found.ok) {
      const missing =
        found.missingAt === 0
          ? `unknown variable '${expr}'`
          : `unknown variable '${expr}' ('${expr.split('.').slice(0, found.missingAt).join('.')}' has no key '${expr.split('.')[found.missingAt]}')`;
      problems.push(`${at()}: ${missing}`);
      return tag;
    }
    if (quote)
      return Array.isArray(found.value)
        ? found.value.map((v) => shq(formatValue(v))).join(' ')
        : shq(formatValue(found.value));
    const value = formatValue(found.value);
    if (opts.shell && !PLAIN_WORD.test(value)) {
      // the value itself is not shown: it may be a secret
      problems.push(
        `${at()}: "${tag}" puts a value with spaces or shell characters into a shell command unquoted; write {{ ${expr} | quote }} (or give the command as a list of words)`,
      );
      return tag;
    }
    return value;
  });
  if (problems.length) {
    throw new TemplateError(
      `${where}: ${problems.join(`\n${where}: `)}` +
        (problems.some((p) => p.includes('unknown variable'))
          ? '\n  hint: define the variable under vars: in the inventory (all, a group or the host) or in the playbook, or fix its spelling'
          : ''),
    );
  }
  return out;
}

function templateLine(text: string, offset: number): string {
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  const end = text.indexOf('\n', offset);
  const lineNo = text.slice(0, offset).split('\n').length;
  const line = text.slice(start, end < 0 ? undefined : end).trim();
  return `template line ${lineNo} (${line.length > 80 ? `${line.slice(0, 77)}...` : line})`;
}

type Lookup = { ok: true; value: unknown } | { ok: false; missingAt: number };

function lookup(vars: Record<string, unknown>, dotted: string): Lookup {
  let cur: unknown = vars;
  const parts = dotted.split('.');
  for (let i = 0; i < parts.length; i++) {
    // Own properties only: `{{ constructor }}` must not reach Object.prototype.
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, parts[i])) return { ok: false, missingAt: i };
    cur = (cur as Record<string, unknown>)[parts[i]];
  }
  return { ok: true, value: cur };
}

function formatValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}
