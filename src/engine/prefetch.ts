import type { HostEntry, Inventory } from '../inventory/types.ts';
import { inventoryTemplateVars } from '../inventory/vars.ts';
import { checkInterpolatedArgs } from '../playbook/load.ts';
import type { Playbook, StepSpec } from '../playbook/types.ts';
import { stepTypes } from '../steps/registry.ts';
import type { StepType } from '../steps/types.ts';
import { interpolateArgs } from './interpolate.ts';
import { PENDING_PATH } from './pending.ts';

/** A step's args as checkApply gets them: interpolated (except the step's raw args), then
 *  checked against the step's schema again. */
export function stepArgs(type: StepType, spec: StepSpec, vars: Record<string, unknown>): Record<string, unknown> {
  const where = `${spec.loc.file}:${spec.loc.line}:${spec.loc.col}`;
  const raw = Object.fromEntries((type.rawArgs ?? []).filter((k) => k in spec.args).map((k) => [k, spec.args[k]]));
  const args = { ...(interpolateArgs(spec.args, vars, where, type.shellArgs) as Record<string, unknown>), ...raw };
  checkInterpolatedArgs(spec, args);
  return args;
}

/**
 * Every file the host's steps and handlers say they will read (StepType.reads), for the
 * snapshot taken in the host's first round trip. Facts are not known yet: a step whose args
 * need them is left out (it reads live), and `when` is not evaluated (a skipped step's files
 * are read for nothing, which costs a few bytes). The pending-handlers file is included so
 * that recording a notification keeps the snapshot valid.
 */
export function prefetchPaths(
  inv: Inventory,
  pb: Playbook,
  playHosts: string[][],
  h: HostEntry,
  selected: (s: StepSpec) => boolean,
): string[] {
  const paths = new Set<string>();
  for (const [pi, play] of pb.plays.entries()) {
    if (!playHosts[pi].includes(h.name)) continue;
    const vars = { ...play.vars, ...inventoryTemplateVars(inv, h.name) };
    for (const spec of [...play.steps.filter(selected), ...play.handlers]) {
      const type = stepTypes.get(spec.type);
      if (!type?.reads) continue;
      try {
        for (const p of type.reads(stepArgs(type, spec, vars), { host: h.name, vars, baseDir: pb.dir }))
          if (p.startsWith('/') && !p.split('/').includes('..')) paths.add(p); // the step refuses the others itself
      } catch {
        // args that need facts (or are wrong: the step itself reports that when it runs)
      }
    }
  }
  if (paths.size) paths.add(PENDING_PATH);
  return [...paths];
}
