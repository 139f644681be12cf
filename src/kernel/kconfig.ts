/**
 * Kernel configuration for the legacy backend: which RAMster fragment a tree needs, what a
 * .config holds, which fragment symbols did not survive `olddefconfig` (the HOW-TO's
 * "doublecheck"), and — best effort — which dependency dropped each of them.
 */

export interface KernelVersion {
  version: number;
  patchlevel: number;
  sublevel: number;
  extraversion: string;
}

/** VERSION / PATCHLEVEL / SUBLEVEL / EXTRAVERSION from a kernel tree's top Makefile. */
export function parseKernelVersion(makefileText: string): KernelVersion | undefined {
  const get = (name: string) => new RegExp(`^${name}[ \\t]*=[ \\t]*(\\S*)[ \\t]*$`, 'm').exec(makefileText)?.[1];
  const [v, p, s] = [get('VERSION'), get('PATCHLEVEL'), get('SUBLEVEL')].map((x) =>
    x !== undefined && /^\d+$/.test(x) ? Number(x) : undefined,
  );
  if (v === undefined || p === undefined) return undefined;
  return { version: v, patchlevel: p, sublevel: s ?? 0, extraversion: get('EXTRAVERSION') ?? '' };
}

export type FragmentChoice =
  | { ok: true; fragment: string; generation: '3.4' | '3.7' | '3.9' | '3.10' }
  | { ok: false; error: string; hint: string };

/** The kconfig/ fragment for a tree: 3.4-3.6, 3.7-3.8, 3.9, 3.10; nothing outside 3.4-3.10. */
export function selectFragment(v: Pick<KernelVersion, 'version' | 'patchlevel'>): FragmentChoice {
  const name = `${v.version}.${v.patchlevel}`;
  const modern =
    "use 'backend: modern' (zswap + swap on a remote node's RAM over NVMe/TCP) for this kernel, or a 3.4-3.10 tree for 'backend: legacy'";
  if (v.version < 3 || (v.version === 3 && v.patchlevel < 4))
    return { ok: false, error: `Linux ${name} has no RAMster: it entered drivers/staging in 3.4`, hint: modern };
  if (v.version > 3 || v.patchlevel >= 11)
    return {
      ok: false,
      error: `Linux ${name} has no RAMster: it lived in drivers/staging from 3.4 to 3.10 and was removed with zcache in 3.11`,
      hint: modern,
    };
  const generation = v.patchlevel <= 6 ? '3.4' : v.patchlevel <= 8 ? '3.7' : v.patchlevel === 9 ? '3.9' : '3.10';
  return { ok: true, fragment: `ramster-${generation}.config`, generation };
}

/** Symbol (without `CONFIG_`) -> value as written (`y`, `m`, `"text"`, `42`); `n` for "is not set". */
export type ConfigValues = Map<string, string>;

export function parseConfig(text: string): ConfigValues {
  const values: ConfigValues = new Map();
  for (const line of text.split('\n')) {
    const set = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/.exec(line.trimEnd());
    if (set) {
      values.set(set[1], set[2]);
      continue;
    }
    const unset = /^# CONFIG_([A-Za-z0-9_]+) is not set\s*$/.exec(line);
    if (unset) values.set(unset[1], 'n');
  }
  return values;
}

export interface MissingSymbol {
  symbol: string; // without CONFIG_
  wanted: string;
  /** Value in the final .config; `n` when it is absent or not set. */
  got: string;
}

/** Every fragment symbol whose value in the final .config differs from the fragment's. */
export function missingSymbols(fragment: ConfigValues | string, finalConfig: ConfigValues | string): MissingSymbol[] {
  const frag = typeof fragment === 'string' ? parseConfig(fragment) : fragment;
  const fin = typeof finalConfig === 'string' ? parseConfig(finalConfig) : finalConfig;
  const out: MissingSymbol[] = [];
  for (const [symbol, wanted] of frag) {
    const got = fin.get(symbol) ?? 'n';
    if (got !== wanted) out.push({ symbol, wanted, got });
  }
  return out;
}

export function formatMissing(m: MissingSymbol): string {
  const show = (v: string) => (v === 'n' ? 'not set' : `=${v}`);
  return `CONFIG_${m.symbol}: wanted ${show(m.wanted)}, the final .config has it ${show(m.got)}`;
}

// --- Kconfig files ----------------------------------------------------------------------------

/** Kconfig text of some files, `source` lines replaced by the sourced file when it is given
 *  (paths relative to the tree, as the kernel writes them). Files no other given file sources
 *  are the starting points. */
export function flattenKconfig(files: Record<string, string>): string {
  const sourceRe = /^\s*(?:o|r)?source\s+"([^"]+)"\s*$/;
  const sourced = new Set<string>();
  for (const text of Object.values(files))
    for (const line of text.split('\n')) {
      const m = sourceRe.exec(line);
      if (m) sourced.add(m[1]);
    }
  const expand = (path: string, depth: number): string =>
    depth > 40
      ? ''
      : files[path]
          .split('\n')
          .map((line) => {
            const m = sourceRe.exec(line);
            return m ? (files[m[1]] !== undefined ? expand(m[1], depth + 1) : '') : line;
          })
          .join('\n');
  return Object.keys(files)
    .filter((p) => !sourced.has(p))
    .map((p) => expand(p, 0))
    .join('\n');
}

export interface KconfigDefinition {
  symbol: string;
  type?: string; // bool, tristate, string, int, hex
  hasPrompt: boolean;
  /** `depends on` expressions, with those of enclosing `if`/`menu`/`choice` blocks and prompt `if`s. */
  dependsOn: string[];
}

const BLOCK_KEYWORD =
  /^(config|menuconfig|choice|endchoice|comment|menu|endmenu|if|endif|source|osource|rsource|mainmenu)\b/;

function indentWidth(line: string): number {
  let w = 0;
  for (const ch of line) {
    if (ch === ' ') w++;
    else if (ch === '\t') w = (Math.floor(w / 8) + 1) * 8;
    else break;
  }
  return w;
}

interface Frame {
  kind: 'if' | 'menu' | 'choice';
  deps: string[];
}

/** Where findDependsOn is in the Kconfig text. */
interface KconfigReader {
  symbol: string;
  /** The enclosing if/menu/choice blocks. */
  stack: Frame[];
  found: KconfigDefinition[];
  /** What `depends on` lines attach to. */
  cur: KconfigDefinition | Frame | undefined;
  inHelp: boolean;
  helpIndent: number | undefined;
}

/** Every definition of `symbol` (without CONFIG_) in Kconfig text, with its dependencies. */
export function findDependsOn(kconfigText: string, symbol: string): KconfigDefinition[] {
  const raw = kconfigText.replace(/\\\n/g, ' ').split('\n');
  const st: KconfigReader = { symbol, stack: [], found: [], cur: undefined, inHelp: false, helpIndent: undefined };
  for (const line of raw) {
    if (st.inHelp) {
      if (line.trim() === '') continue;
      const w = indentWidth(line);
      if (st.helpIndent === undefined) st.helpIndent = w;
      if (w >= st.helpIndent && !BLOCK_KEYWORD.test(line)) continue;
      st.inHelp = false;
    }
    const t = line.replace(/#.*$/, '').trim();
    if (t === '') continue;
    const word = t.split(/\s+/)[0];
    const rest = t.slice(word.length).trim();
    if (!readBlockLine(st, word, rest)) readAttributeLine(st, word, rest);
  }
  return st.found;
}

/** A line that opens or closes an entry or a block (config, if, menu, endmenu...); false for another line. */
function readBlockLine(st: KconfigReader, word: string, rest: string): boolean {
  switch (word) {
    case 'config':
    case 'menuconfig': {
      const def: KconfigDefinition = { symbol: rest, hasPrompt: false, dependsOn: st.stack.flatMap((f) => f.deps) };
      if (rest === st.symbol) st.found.push(def);
      st.cur = def;
      return true;
    }
    case 'if':
      st.stack.push({ kind: 'if', deps: [rest] });
      st.cur = undefined;
      return true;
    case 'menu':
    case 'choice': {
      const frame: Frame = { kind: word, deps: [] };
      st.stack.push(frame);
      st.cur = frame;
      return true;
    }
    case 'endif':
    case 'endmenu':
    case 'endchoice':
      st.stack.pop();
      st.cur = undefined;
      return true;
    case 'comment':
    case 'mainmenu':
      st.cur = undefined;
      return true;
    default:
      return false;
  }
}

/** A line inside an entry: help, depends on, visible if, a type or a prompt. */
function readAttributeLine(st: KconfigReader, word: string, rest: string): void {
  const { cur } = st;
  switch (word) {
    case 'help':
    case '---help---':
      st.inHelp = true;
      st.helpIndent = undefined;
      break;
    case 'depends':
      if (cur) ('kind' in cur ? cur.deps : cur.dependsOn).push(rest.replace(/^on\s+/, ''));
      break;
    case 'visible':
      if (cur && 'kind' in cur) cur.deps.push(rest.replace(/^if\s+/, ''));
      break;
    case 'bool':
    case 'boolean':
    case 'tristate':
    case 'string':
    case 'int':
    case 'hex':
    case 'prompt':
    case 'def_bool':
    case 'def_tristate': {
      if (!cur || 'kind' in cur) break;
      if (word !== 'prompt') cur.type = word.replace(/^def_/, '').replace('boolean', 'bool');
      const prompt = /^"(?:[^"\\]|\\.)*"(?:\s+if\s+(.+))?$/.exec(rest);
      if (prompt && !word.startsWith('def_')) {
        cur.hasPrompt = true;
        if (prompt[1]) cur.dependsOn.push(prompt[1]);
      }
      break;
    }
    default:
      break;
  }
}

// --- dependency expressions ------------------------------------------------------------------

type Expr =
  | { op: 'sym'; name: string }
  | { op: 'not'; a: Expr }
  | { op: 'and' | 'or'; a: Expr; b: Expr }
  | { op: 'cmp'; cmp: string; a: string; b: string };

function parseExpr(text: string): Expr {
  const tokens = text.match(/"(?:[^"\\]|\\.)*"|'[^']*'|&&|\|\||!=|<=|>=|[()!=<>]|[A-Za-z0-9_.$-]+/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];
  const or = (): Expr => {
    let e = and();
    while (peek() === '||') {
      next();
      e = { op: 'or', a: e, b: and() };
    }
    return e;
  };
  const and = (): Expr => {
    let e = unary();
    while (peek() === '&&') {
      next();
      e = { op: 'and', a: e, b: unary() };
    }
    return e;
  };
  const unary = (): Expr => {
    if (peek() === '!') {
      next();
      return { op: 'not', a: unary() };
    }
    if (peek() === '(') {
      next();
      const e = or();
      if (peek() === ')') next();
      return e;
    }
    const a = next() ?? 'n';
    if (['=', '!=', '<', '>', '<=', '>='].includes(peek() ?? '')) {
      const cmp = next();
      return { op: 'cmp', cmp, a, b: next() ?? 'n' };
    }
    return { op: 'sym', name: a };
  };
  return or();
}

const TRI: Record<string, number> = { n: 0, m: 1, y: 2 };

function symValue(name: string, config: ConfigValues): string {
  if (/^["']/.test(name)) return name.slice(1, -1);
  if (name === 'y' || name === 'n') return name;
  if (name === 'm') return config.get('MODULES') === 'y' ? 'm' : 'n';
  if (/^(0x[0-9a-fA-F]+|-?\d+)$/.test(name)) return name;
  const v = config.get(name) ?? 'n';
  return v.startsWith('"') ? v.slice(1, -1) : v;
}

function tri(name: string, config: ConfigValues): number {
  return TRI[symValue(name, config)] ?? 0;
}

function evalExpr(e: Expr, config: ConfigValues): number {
  switch (e.op) {
    case 'sym':
      return tri(e.name, config);
    case 'not':
      return 2 - evalExpr(e.a, config);
    case 'and':
      return Math.min(evalExpr(e.a, config), evalExpr(e.b, config));
    case 'or':
      return Math.max(evalExpr(e.a, config), evalExpr(e.b, config));
    case 'cmp': {
      const a = symValue(e.a, config);
      const b = symValue(e.b, config);
      const num = /^-?\d+$/.test(a) && /^-?\d+$/.test(b);
      const c = num
        ? Number(a) - Number(b)
        : a === b
          ? 0
          : TRI[a] !== undefined && TRI[b] !== undefined
            ? TRI[a] - TRI[b]
            : a < b
              ? -1
              : 1;
      const ok = { '=': c === 0, '!=': c !== 0, '<': c < 0, '>': c > 0, '<=': c <= 0, '>=': c >= 0 }[e.cmp];
      return ok ? 2 : 0;
    }
  }
}

/** Value (0 n, 1 m, 2 y) of a Kconfig dependency expression against a .config. */
export function evalKconfigExpr(expr: string, config: ConfigValues): number {
  return evalExpr(parseExpr(expr), config);
}

const showSym = (name: string, config: ConfigValues) => {
  const v = config.get(name);
  return v === undefined || v === 'n' ? `CONFIG_${name} is not set` : `CONFIG_${name}=${v}`;
};

/** The atoms that keep `e` below `need` (2 for =y, 1 for =m). */
function culprits(e: Expr, need: number, config: ConfigValues): string[] {
  if (evalExpr(e, config) >= need) return [];
  switch (e.op) {
    case 'sym':
      return /^[A-Z0-9_]+$/.test(e.name) && !['y', 'm', 'n'].includes(e.name)
        ? [showSym(e.name, config)]
        : [`'${e.name}'`];
    case 'not': {
      const inner = e.a.op === 'sym' ? [showSym(e.a.name, config)] : [`(${exprText(e.a)})`];
      return inner.map((s) => `${s} (must be off)`);
    }
    case 'and':
      return [...culprits(e.a, need, config), ...culprits(e.b, need, config)];
    case 'or':
      return [...culprits(e.a, need, config), ...culprits(e.b, need, config)];
    case 'cmp':
      return [`${showSym(e.a, config)} (needs ${e.cmp} ${e.b})`];
  }
}

function exprText(e: Expr): string {
  switch (e.op) {
    case 'sym':
      return e.name;
    case 'not':
      return `!${exprText(e.a)}`;
    case 'and':
      return `${exprText(e.a)} && ${exprText(e.b)}`;
    case 'or':
      return `${exprText(e.a)} || ${exprText(e.b)}`;
    case 'cmp':
      return `${e.a}${e.cmp}${e.b}`;
  }
}

export interface DropExplanation {
  symbol: string;
  /** Bare names of the symbols blamed (empty when the cause is not a dependency). */
  culprits: string[];
  /** One sentence for the user. */
  reason: string;
}

/**
 * Why `symbol` did not get `wanted` in the final .config: the first unmet dependency of its
 * definition(s) and the symbols that make it fail. Best effort — choices, `select`s and
 * ranges are not modelled.
 */
export function explainDrop(
  symbol: string,
  definitions: KconfigDefinition[],
  finalConfig: ConfigValues,
  wanted = 'y',
): DropExplanation {
  if (definitions.length === 0)
    return {
      symbol,
      culprits: [],
      reason: `CONFIG_${symbol} does not exist in this kernel tree (no 'config ${symbol}' in its Kconfig files)`,
    };
  const need = wanted === 'm' ? 1 : 2;
  for (const def of definitions) {
    if (wanted === 'm' && def.type === 'bool')
      return { symbol, culprits: [], reason: `CONFIG_${symbol} is a bool: it cannot be m` };
  }
  const failing = definitions.map((def) => def.dependsOn.filter((d) => evalKconfigExpr(d, finalConfig) < need));
  if (wanted !== 'n' && failing.every((f) => f.length > 0)) {
    const expr = failing[0][0];
    const blamed = culprits(parseExpr(expr), need, finalConfig);
    const names = [
      ...new Set(blamed.map((b) => /^CONFIG_([A-Za-z0-9_]+)/.exec(b)?.[1]).filter((x): x is string => !!x)),
    ];
    return { symbol, culprits: names, reason: `CONFIG_${symbol} depends on "${expr}": ${blamed.join(', ')}` };
  }
  if (!definitions.some((d) => d.hasPrompt))
    return {
      symbol,
      culprits: [],
      reason: `CONFIG_${symbol} has no prompt: only a 'select' or 'default' of another symbol can set it`,
    };
  return {
    symbol,
    culprits: [],
    reason: `the dependencies of CONFIG_${symbol} are met: a choice, a 'select' or a range may have changed it (check with 'make menuconfig', search '${symbol}')`,
  };
}
