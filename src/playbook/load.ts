import { dirname, resolve } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { InputError, sortDiagnostics, type Diagnostic } from '../input/diagnostics.ts';
import { stepTypes } from '../steps/registry.ts';
import { ajvDiagnostics } from '../input/schemaErrors.ts';
import { closest } from '../input/suggest.ts';
import { loadYamlFile, parseYamlText, type YamlPath, type YamlSource } from '../input/yamlsource.ts';
import { ExprError, parseExpr } from './expr.ts';
import { COMMON_STEP_KEYS, structureSchema } from './schema.ts';
import type { Location, Play, Playbook, StepSpec } from './types.ts';

// verbose: errors carry the offending value, so templated values can be told apart.
const ajv = new Ajv2020({ allErrors: true, strict: false, verbose: true });

export async function loadPlaybook(file: string): Promise<Playbook> {
  const { source, errors } = await loadYamlFile(file);
  if (!source) throw new InputError(errors);
  return fromSource(source, resolve(file));
}

export function loadPlaybookText(file: string, text: string): Playbook {
  const { source, errors } = parseYamlText(file, text);
  if (!source) throw new InputError(errors);
  return fromSource(source, resolve(file));
}

/** The playbook of a file already parsed (validate reads each file once). */
export function playbookFromSource(source: YamlSource): Playbook {
  return fromSource(source, resolve(source.file));
}

function fromSource(source: YamlSource, absFile: string): Playbook {
  const names = [...stepTypes.keys()];
  const schema = structureSchema(names);
  const validate = ajv.compile(schema);
  const diags: Diagnostic[] = [];
  if (!validate(source.value)) diags.push(...ajvDiagnostics(validate.errors, source, [], schema, 'play'));
  const plays: Play[] = [];
  const raw = Array.isArray(source.value) ? source.value : [];
  raw.forEach((p: Record<string, unknown>, pi: number) => {
    if (!p || typeof p !== 'object') return;
    const loc = (path: YamlPath, key = false): Location => ({ file: source.file, ...source.locate(path, key) });
    const readSteps = (list: 'steps' | 'handlers') =>
      (Array.isArray(p[list]) ? (p[list] as unknown[]) : []).flatMap((s, si) => {
        const spec = readStep(source, s, [pi, list, si], si, diags, loc);
        return spec ? [spec] : [];
      });
    const play: Play = {
      name: typeof p.name === 'string' ? p.name : `play ${pi + 1}`,
      hosts: typeof p.hosts === 'string' ? p.hosts : 'all',
      vars: p.vars && typeof p.vars === 'object' ? (p.vars as Record<string, unknown>) : {},
      steps: readSteps('steps'),
      handlers: readSteps('handlers'),
      loc: loc([pi]),
    };
    const handlerNames = new Set(play.handlers.map((h) => h.name));
    for (const s of play.steps) {
      s.notify.forEach((n, ni) => {
        if (!handlerNames.has(n)) {
          const guess = closest(n, [...handlerNames]);
          diags.push({
            ...loc([pi, 'steps', s.index, 'notify', ni]),
            message: `step '${s.name}' notifies unknown handler '${n}'`,
            hint: guess ? `did you mean '${guess}'?` : `define it under 'handlers:' of this play`,
          });
        }
      });
    }
    plays.push(play);
  });
  if (diags.length) throw new InputError(sortDiagnostics(diags));
  return { file: source.file, dir: dirname(absFile), plays, secrets: source.secrets };
}

function readStep(
  source: YamlSource,
  s: unknown,
  path: YamlPath,
  index: number,
  diags: Diagnostic[],
  loc: (p: YamlPath, key?: boolean) => Location,
): StepSpec | undefined {
  if (!s || typeof s !== 'object' || Array.isArray(s)) return undefined; // structure schema reported it
  const step = s as Record<string, unknown>;
  const type = stepTypeOf(step, path, diags, loc);
  if (type === undefined) return undefined;
  const args = (step[type] ?? {}) as Record<string, unknown>;
  const st = stepTypes.get(type)!;
  const validate = ajv.compile(st.argsSchema);
  if (!validate(args)) {
    // A templated value ("{{ x }}") is checked again after interpolation, at run time.
    const real = (validate.errors ?? []).filter((e) => !(typeof e.data === 'string' && e.data.includes('{{')));
    diags.push(...ajvDiagnostics(real, source, [...path, type], st.argsSchema, `'${type}' step`));
  }
  const whenLoc = checkWhen(source, step, path, diags, loc);
  return {
    index,
    name: typeof step.name === 'string' ? step.name : `${type} ${summarizeArgs(args)}`.trim(),
    type,
    args,
    when: typeof step.when === 'string' ? step.when : undefined,
    whenLoc,
    tags: Array.isArray(step.tags) ? step.tags.map(String) : [],
    notify: Array.isArray(step.notify) ? step.notify.map(String) : [],
    barrier: step.barrier === 'cluster' ? 'cluster' : undefined,
    timeoutS: typeof step.timeout_s === 'number' ? step.timeout_s : undefined,
    loc: loc(path),
    argLocs:
      args && typeof args === 'object'
        ? Object.fromEntries(Object.keys(args).map((k) => [k, loc([...path, type, k])]))
        : undefined,
  };
}

/** The step's one step type; undefined (reported) when it has none, an unknown one, or two. */
function stepTypeOf(
  step: Record<string, unknown>,
  path: YamlPath,
  diags: Diagnostic[],
  loc: (p: YamlPath, key?: boolean) => Location,
): string | undefined {
  const typeKeys = Object.keys(step).filter((k) => !COMMON_STEP_KEYS.includes(k));
  const known = typeKeys.filter((k) => stepTypes.has(k));
  for (const k of typeKeys.filter((k) => !stepTypes.has(k))) {
    const guess = closest(k, [...stepTypes.keys(), ...COMMON_STEP_KEYS]);
    diags.push({
      ...loc([...path, k], true),
      message: `unknown step type '${k}'`,
      hint: guess ? `did you mean '${guess}'?` : `step types: ${[...stepTypes.keys()].sort().join(', ')}`,
    });
  }
  if (known.length === 0) {
    if (typeKeys.length === 0)
      diags.push({
        ...loc(path),
        message: 'step has no step type',
        hint: `add one of: ${[...stepTypes.keys()].sort().join(', ')}`,
      });
    return undefined;
  }
  if (known.length > 1) {
    diags.push({
      ...loc([...path, known[1]], true),
      message: `step has two step types ('${known[0]}' and '${known[1]}')`,
      hint: 'split it into two steps',
    });
    return undefined;
  }
  return known[0];
}

/** Where the step's `when` expression starts (inside its quotes), after checking its syntax. */
function checkWhen(
  source: YamlSource,
  step: Record<string, unknown>,
  path: YamlPath,
  diags: Diagnostic[],
  loc: (p: YamlPath, key?: boolean) => Location,
): Location | undefined {
  const whenNode = source.doc.getIn([...path, 'when'], true) as { type?: string } | undefined;
  const quoted = whenNode?.type === 'QUOTE_DOUBLE' || whenNode?.type === 'QUOTE_SINGLE' ? 1 : 0;
  const whenLoc =
    typeof step.when === 'string' ? { ...loc([...path, 'when']), col: loc([...path, 'when']).col + quoted } : undefined;
  if (typeof step.when === 'string') {
    try {
      parseExpr(step.when);
    } catch (e) {
      if (e instanceof ExprError)
        diags.push({
          ...whenLoc!,
          col: whenLoc!.col + e.column - 1,
          message: `bad 'when' expression: ${e.message}`,
          hint: "conditions look like: facts.os_family == 'debian' and not ramster.node.targets",
        });
      else throw e;
    }
  }
  return whenLoc;
}

const argValidators = new Map<string, ValidateFunction>();

/**
 * The re-check promised above: a step's args after `{{ }}` interpolation, against the same
 * schema, so a templated value (an inventory var) meets the same patterns as a literal one —
 * e.g. a kconfig base that is a make target, never `--eval=...`. Throws every problem as
 * file:line:col of the arg; the value itself is not shown (it may be a secret).
 */
export function checkInterpolatedArgs(spec: StepSpec, args: Record<string, unknown>): void {
  const st = stepTypes.get(spec.type);
  if (!st || !JSON.stringify(spec.args).includes('{{')) return; // literal args were checked at load
  let validate = argValidators.get(spec.type);
  if (!validate) {
    validate = ajv.compile(st.argsSchema);
    argValidators.set(spec.type, validate);
  }
  if (validate(args)) return;
  const hint =
    "the value comes from a {{ variable }}: fix it where it is defined (inventory or play vars); the step's schema in schemas/playbook.schema.json says what is allowed";
  const diags = new Map<string, Diagnostic>();
  for (const e of validate.errors ?? []) {
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf' || e.keyword === 'if') continue;
    const key = e.instancePath.split('/')[1] ?? '';
    const l = (key && spec.argLocs?.[key]) || spec.loc;
    const detail =
      e.keyword === 'additionalProperties'
        ? `has no key '${(e.params as { additionalProperty: string }).additionalProperty}'`
        : e.message;
    const message = `step '${spec.name}': ${spec.type}${e.instancePath.replace(/\//g, '.')} ${detail} (after interpolation)`;
    diags.set(message, { ...l, message, hint });
  }
  if (!diags.size)
    diags.set('', {
      ...spec.loc,
      message: `step '${spec.name}': its ${spec.type} args do not match the step's schema after interpolation`,
      hint,
    });
  throw new InputError(sortDiagnostics([...diags.values()]));
}

function summarizeArgs(args: Record<string, unknown>): string {
  const v = args.path ?? args.name ?? args.cmd ?? '';
  return Array.isArray(v) ? v.join(' ') : String(v);
}
