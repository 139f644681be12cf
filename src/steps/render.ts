/** `{{ name }}` / `{{ a.b.c }}` substitution from variables. Deliberately not a language: no
 *  expressions, filters or eval, so a template can never run code. `{{ '{{' }}` writes a
 *  literal `{{`. */

const TAG = /\{\{(.*?)\}\}/g;
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
export function renderTemplate(text: string, vars: Record<string, unknown>, where: string): string {
  const problems: string[] = [];
  const out = text.replace(TAG, (tag: string, inner: string, offset: number) => {
    const expr = inner.trim();
    const at = () => templateLine(text, offset);
    const literal = LITERAL.exec(expr);
    if (literal) return literal[1] ?? literal[2];
    if (!NAME.test(expr)) {
      problems.push(`${at()}: "${tag}" is not a variable reference (only {{ name }} and {{ a.b.c }} are supported, no expressions)`);
      return tag;
    }
    const found = lookup(vars, expr);
    if (!found.ok) {
      const missing = found.missingAt === 0 ? `unknown variable '${expr}'` : `unknown variable '${expr}' ('${expr.split('.').slice(0, found.missingAt).join('.')}' has no key '${expr.split('.')[found.missingAt]}')`;
      problems.push(`${at()}: ${missing}`);
      return tag;
    }
    return formatValue(found.value);
  });
  if (problems.length) {
    throw new TemplateError(
      `${where}: ${problems.join(`\n${where}: `)}\n  hint: define the variable under vars: in the inventory (all, a group or the host) or in the playbook, or fix its spelling`,
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
