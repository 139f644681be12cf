/** `when:` conditions: a small expression language, parsed, never eval'd.
 *    expr    := or
 *    or      := and ('or' and)*
 *    and     := not ('and' not)*
 *    not     := 'not' not | cmp
 *    cmp     := primary (('=='|'!='|'<'|'<='|'>'|'>='|'in'|'not in') primary)?
 *    primary := literal | name('.'name)* | '(' expr ')' | '[' list ']' | 'defined(' name ')'
 *  Names resolve against the host's variables (inventory vars, facts, ramster, play vars). */

export class ExprError extends Error {
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(message);
    this.name = 'ExprError';
  }
}

type Tok = { kind: 'num' | 'str' | 'name' | 'op'; value: string; col: number };

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  const re =
    /\s*(?:(\d+(?:\.\d+)?)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([A-Za-z_][\w]*(?:\.[A-Za-z_0-9][\w]*)*)|(==|!=|<=|>=|<|>|\(|\)|\[|\]|,))/y;
  let pos = 0;
  while (pos < src.length) {
    if (/^\s*$/.test(src.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(src);
    if (!m) throw new ExprError(`unexpected character '${src.slice(pos).trim()[0]}'`, pos + 1);
    const col = pos + (m[0].length - m[0].trimStart().length) + 1;
    if (m[1] !== undefined) toks.push({ kind: 'num', value: m[1], col });
    else if (m[2] !== undefined) toks.push({ kind: 'str', value: m[2].replace(/\\(.)/g, '$1'), col });
    else if (m[3] !== undefined) toks.push({ kind: 'str', value: m[3].replace(/\\(.)/g, '$1'), col });
    else if (m[4] !== undefined) toks.push({ kind: 'name', value: m[4], col });
    else toks.push({ kind: 'op', value: m[5], col });
    pos = re.lastIndex;
  }
  return toks;
}

/** Looks up a dotted name; returns `undefined` when any part is missing. */
export function lookupVar(vars: Record<string, unknown>, dotted: string): unknown {
  let cur: unknown = vars;
  for (const part of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object' || !(part in (cur as object))) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export function hasVar(vars: Record<string, unknown>, dotted: string): boolean {
  let cur: unknown = vars;
  for (const part of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object' || !(part in (cur as object))) return false;
    cur = (cur as Record<string, unknown>)[part];
  }
  return true;
}

type Node =
  | { t: 'lit'; v: unknown }
  | { t: 'var'; name: string; col: number }
  | { t: 'defined'; name: string }
  | { t: 'list'; items: Node[] }
  | { t: 'not'; e: Node }
  | { t: 'bin'; op: string; l: Node; r: Node };

export function parseExpr(src: string): Node {
  return new ExprParser(src).parse();
}

/** Recursive descent over the tokens, one method per precedence level:
 *  or > and > not > comparison > primary. */
class ExprParser {
  private readonly toks: Tok[];
  private i = 0;

  constructor(private readonly src: string) {
    this.toks = tokenize(src);
  }

  parse(): Node {
    const tree = this.or();
    const { toks, i } = this;
    if (i < toks.length) throw new ExprError(`unexpected '${toks[i].value}'`, toks[i].col);
    return tree;
  }

  private peek(): Tok | undefined {
    return this.toks[this.i];
  }

  private isOp(v: string): boolean {
    const tok = this.peek();
    return tok?.value === v && (tok.kind === 'op' || tok.kind === 'name');
  }

  private expect(v: string): void {
    if (!this.isOp(v)) {
      const tok = this.peek();
      throw new ExprError(
        `expected '${v}'${tok ? ` but found '${tok.value}'` : ' at the end'}`,
        tok?.col ?? this.src.length + 1,
      );
    }
    this.i++;
  }

  private or(): Node {
    let l = this.and();
    while (this.isOp('or')) {
      this.i++;
      l = { t: 'bin', op: 'or', l, r: this.and() };
    }
    return l;
  }

  private and(): Node {
    let l = this.not();
    while (this.isOp('and')) {
      this.i++;
      l = { t: 'bin', op: 'and', l, r: this.not() };
    }
    return l;
  }

  private not(): Node {
    if (this.isOp('not')) {
      this.i++;
      return { t: 'not', e: this.not() };
    }
    return this.cmp();
  }

  private cmp(): Node {
    const l = this.primary();
    for (const op of ['==', '!=', '<=', '>=', '<', '>', 'in']) {
      if (this.isOp(op)) {
        this.i++;
        return { t: 'bin', op, l, r: this.primary() };
      }
    }
    if (this.isOp('not') && this.toks[this.i + 1]?.value === 'in') {
      this.i += 2;
      return { t: 'not', e: { t: 'bin', op: 'in', l, r: this.primary() } };
    }
    return l;
  }

  private primary(): Node {
    const tok = this.peek();
    if (!tok) throw new ExprError('expression ends too early', this.src.length + 1);
    this.i++;
    if (tok.kind === 'num') return { t: 'lit', v: Number(tok.value) };
    if (tok.kind === 'str') return { t: 'lit', v: tok.value };
    if (tok.kind === 'op' && tok.value === '(') {
      const e = this.or();
      this.expect(')');
      return e;
    }
    if (tok.kind === 'op' && tok.value === '[') return this.list();
    if (tok.kind === 'name') return this.name(tok);
    throw new ExprError(`unexpected '${tok.value}'`, tok.col);
  }

  /** `[a, b, ...]`, after its `[`. */
  private list(): Node {
    const items: Node[] = [];
    while (!this.isOp(']')) {
      items.push(this.or());
      if (!this.isOp(']')) this.expect(',');
    }
    this.i++;
    return { t: 'list', items };
  }

  /** A literal name (true, false, null and their Python spellings), `defined(x)`, or a variable. */
  private name(tok: Tok): Node {
    if (tok.value === 'true' || tok.value === 'True') return { t: 'lit', v: true };
    if (tok.value === 'false' || tok.value === 'False') return { t: 'lit', v: false };
    if (tok.value === 'null' || tok.value === 'none' || tok.value === 'None') return { t: 'lit', v: null };
    if (tok.value === 'defined' && this.isOp('(')) {
      this.i++;
      const n = this.peek();
      if (n?.kind !== 'name') throw new ExprError('defined() takes a variable name', n?.col ?? this.src.length + 1);
      this.i++;
      this.expect(')');
      return { t: 'defined', name: n.value };
    }
    return { t: 'var', name: tok.value, col: tok.col };
  }
}

/** Names an expression tests with defined(). */
export function guardedNames(node: Node): Set<string> {
  const guarded = new Set<string>();
  const collect = (n: Node): void => {
    if (n.t === 'defined') guarded.add(n.name);
    else if (n.t === 'list') n.items.forEach(collect);
    else if (n.t === 'not') collect(n.e);
    else if (n.t === 'bin') {
      collect(n.l);
      collect(n.r);
    }
  };
  collect(node);
  return guarded;
}

/** Names an expression reads, except those it guards with defined(). */
export function exprNames(node: Node): { name: string; col: number }[] {
  const guarded = guardedNames(node);
  return readNames(node).filter((n) => !guarded.has(n.name));
}

function readNames(node: Node): { name: string; col: number }[] {
  switch (node.t) {
    case 'var':
      return [{ name: node.name, col: node.col }];
    case 'list':
      return node.items.flatMap(readNames);
    case 'not':
      return readNames(node.e);
    case 'bin':
      return [...readNames(node.l), ...readNames(node.r)];
    default:
      return [];
  }
}

export function evalExpr(node: Node, vars: Record<string, unknown>): unknown {
  switch (node.t) {
    case 'lit':
      return node.v;
    case 'defined':
      return hasVar(vars, node.name);
    case 'var':
      if (!hasVar(vars, node.name)) throw new ExprError(`unknown variable '${node.name}'`, node.col);
      return lookupVar(vars, node.name);
    case 'list':
      return node.items.map((n) => evalExpr(n, vars));
    case 'not':
      return !truthy(evalExpr(node.e, vars));
    case 'bin': {
      if (node.op === 'and') return truthy(evalExpr(node.l, vars)) && truthy(evalExpr(node.r, vars));
      if (node.op === 'or') return truthy(evalExpr(node.l, vars)) || truthy(evalExpr(node.r, vars));
      const l = evalExpr(node.l, vars);
      const r = evalExpr(node.r, vars);
      switch (node.op) {
        case '==':
          return l === r || String(l) === String(r);
        case '!=':
          return !(l === r || String(l) === String(r));
        case '<':
          return Number(l) < Number(r);
        case '<=':
          return Number(l) <= Number(r);
        case '>':
          return Number(l) > Number(r);
        case '>=':
          return Number(l) >= Number(r);
        case 'in':
          return Array.isArray(r)
            ? r.some((x) => x === l || String(x) === String(l))
            : typeof r === 'string'
              ? r.includes(String(l))
              : r !== null && typeof r === 'object'
                ? String(l) in r
                : false;
      }
    }
  }
  return undefined;
}

export function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'string') return v !== '' && v.toLowerCase() !== 'false' && v !== '0';
  return Boolean(v);
}

export function evaluateCondition(src: string, vars: Record<string, unknown>): boolean {
  return truthy(evalExpr(parseExpr(src), vars));
}
