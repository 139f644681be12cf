import { renderTemplate } from '../steps/render.ts';
import { hasVar, lookupVar } from '../playbook/expr.ts';

const WHOLE = /^\{\{\s*([A-Za-z_][\w]*(?:\.[\w]+)*)\s*\}\}$/;

/** Interpolates `{{ name }}` in every string of a step's args. A string that is exactly one
 *  `{{ name }}` takes the variable's value with its type (number, list, …). `shellArgs`: the
 *  top-level args that are shell command text, where an unquoted value must be a plain word
 *  (a list there is argv: the step quotes every word itself). */
export function interpolateArgs(
  value: unknown,
  vars: Record<string, unknown>,
  where: string,
  shellArgs: readonly string[] = [],
): unknown {
  if (shellArgs.length && value && typeof value === 'object' && !Array.isArray(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        shellArgs.includes(k) && typeof v === 'string'
          ? renderTemplate(v, vars, where, { shell: true })
          : interpolateArgs(v, vars, where),
      ]),
    );
  }
  if (typeof value === 'string') {
    const m = WHOLE.exec(value);
    if (m) {
      if (!hasVar(vars, m[1])) return renderTemplate(value, vars, where); // throws the standard message
      return lookupVar(vars, m[1]);
    }
    return value.includes('{{') ? renderTemplate(value, vars, where) : value;
  }
  if (Array.isArray(value)) return value.map((v) => interpolateArgs(v, vars, where));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateArgs(v, vars, where)]));
  return value;
}
