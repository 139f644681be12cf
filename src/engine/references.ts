import { InputError, sortDiagnostics, type Diagnostic } from '../input/diagnostics.ts';
import type { Inventory } from '../inventory/types.ts';
import { inventoryTemplateVars } from '../inventory/vars.ts';
import { exprNames, guardedNames, hasVar, parseExpr } from '../playbook/expr.ts';
import type { Playbook, StepSpec } from '../playbook/types.ts';
import { stepTypes } from '../steps/registry.ts';
import { parseFacts } from '../transport/facts.ts';
import { Frames } from '../frame.ts';
import { closest } from '../input/suggest.ts';

const TAG = /\{\{\s*([A-Za-z_][\w-]*(?:\.[\w-]+)*)\s*(?:\|\s*quote\s*)?\}\}/g;

/** Every `{{ name }}` and `when:` name a step uses must exist for every host it runs on;
 *  checked before anything runs, so all such mistakes are reported at once. Facts exist
 *  only at run time: their names are known, their values are not needed here. `runVars`: the
 *  run's own variables (RunOptions.vars). */
export function checkReferences(
  inv: Inventory,
  pb: Playbook,
  playHosts: string[][],
  runVars: Record<string, unknown> = {},
): void {
  const found = new Map<string, { d: Diagnostic; hosts: string[] }>();
  const facts = parseFacts(new Frames([]));
  pb.plays.forEach((play, pi) => {
    for (const host of playHosts[pi]) {
      const vars = { ...play.vars, ...inventoryTemplateVars(inv, host), ...runVars, facts };
      for (const spec of [...play.steps, ...play.handlers]) {
        for (const name of referencedNames(spec)) {
          if (hasVar(vars, name.name)) continue;
          const key = `${spec.loc.line}:${spec.loc.col}:${name.name}`;
          const entry = found.get(key);
          if (entry) {
            entry.hosts.push(host);
            continue;
          }
          const root = name.name.split('.')[0];
          const guess = closest(root, Object.keys(vars));
          found.set(key, {
            hosts: [host],
            d: {
              ...(name.where === 'when' && spec.whenLoc ? spec.whenLoc : spec.loc),
              message: `step '${spec.name}' uses unknown variable '${name.name}' (in ${name.where})`,
              hint:
                guess && guess !== root
                  ? `did you mean '${guess}'?`
                  : root === 'ramster'
                    ? 'only hosts in a group with a ramster: section have `ramster`'
                    : 'define it under vars: in the inventory or the play',
            },
          });
        }
      }
    }
  });
  const diags = [...found.values()].map(({ d, hosts }) => ({
    ...d,
    message: `${d.message} for host${hosts.length > 1 ? 's' : ''} ${hosts.join(', ')}`,
  }));
  if (diags.length) throw new InputError(sortDiagnostics(diags));
}

function referencedNames(spec: StepSpec): { name: string; where: string }[] {
  const out: { name: string; where: string }[] = [];
  const raw = new Set(stepTypes.get(spec.type)?.rawArgs ?? []);
  const walk = (v: unknown, where: string) => {
    if (typeof v === 'string') for (const m of v.matchAll(TAG)) out.push({ name: m[1], where });
    else if (Array.isArray(v)) {
      for (const x of v) walk(x, where);
    } else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${where}.${k}`);
  };
  for (const [k, v] of Object.entries(spec.args)) if (!raw.has(k)) walk(v, `${spec.type}.${k}`);
  if (spec.when) for (const n of exprNames(parseExpr(spec.when))) out.push({ name: n.name, where: 'when' });
  // A step whose `when` tests defined(x) only reads x where it is defined.
  const guarded = spec.when ? guardedNames(parseExpr(spec.when)) : new Set<string>();
  return out.filter((n) => ![...guarded].some((g) => n.name === g || n.name.startsWith(`${g}.`)));
}
