/**
 * The long functions of src/: every function, method and arrow function whose body spans more
 * than LIMIT lines (issue 13: "no function over ~60 lines in src/ without a reason in a comment").
 * `npm run functions` prints them, longest first, with their reason when they have one;
 * test/unit/long-functions.test.ts fails on one without a reason.
 *
 * A body's span counts its lines from the opening brace to the closing one (an arrow function's
 * expression body: from its first line to its last). A reason is a comment directly above the
 * function's first line (JSDoc or `//`, no blank line between) holding `long:` and some words:
 * `// long: one switch over the 14 token kinds; splitting it scatters the grammar`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

export const LIMIT = 60;

export interface LongFunction {
  /** `parseRamsterConf`, `SshTransport.exec`, `<arrow in labUp>` */
  name: string;
  /** relative to the source tree */
  file: string;
  /** 1-based line where the function starts */
  line: number;
  /** lines its body spans */
  lines: number;
  /** the text after `long:` in the comment above it, undefined when there is none */
  reason: string | undefined;
}

/** The .ts files under dir, sorted. */
export function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

type FunctionNode =
  | ts.FunctionDeclaration
  | ts.FunctionExpression
  | ts.ArrowFunction
  | ts.MethodDeclaration
  | ts.ConstructorDeclaration
  | ts.GetAccessorDeclaration
  | ts.SetAccessorDeclaration;

function isFunctionNode(node: ts.Node): node is FunctionNode {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isFunctionExpression(node) ||
    ts.isArrowFunction(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node)
  );
}

function propertyName(name: ts.PropertyName | ts.BindingName | undefined, sf: ts.SourceFile): string | undefined {
  if (!name) return undefined;
  if (ts.isIdentifier(name) || ts.isPrivateIdentifier(name) || ts.isStringLiteral(name)) return name.text;
  return name.getText(sf);
}

/** The name a function goes by: its own, its class's and its own, or the variable or property
 *  it is assigned to; an anonymous callback is named after the function around it. */
function functionName(fn: FunctionNode, sf: ts.SourceFile): string {
  const own = ts.isConstructorDeclaration(fn) ? 'constructor' : propertyName(fn.name, sf);
  if (own) return `${ownerPrefix(fn, sf)}${own}`;
  const p = fn.parent;
  if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) {
    const assigned = propertyName(p.name, sf);
    if (assigned) return `${ts.isVariableDeclaration(p) ? '' : ownerPrefix(p, sf)}${assigned}`;
  }
  for (let n: ts.Node | undefined = p; n; n = n.parent)
    if (isFunctionNode(n)) return `<${ts.isArrowFunction(fn) ? 'arrow' : 'function'} in ${functionName(n, sf)}>`;
  return `<${ts.isArrowFunction(fn) ? 'arrow' : 'function'}>`;
}

/** `Class.` for a class member, `name.` for a member of an object literal given to a variable
 *  (`export const serviceStep = defineStep()({ checkApply() {...} })`), else nothing. */
function ownerPrefix(member: ts.Node, sf: ts.SourceFile): string {
  const holder = member.parent;
  if (ts.isClassLike(holder)) return holder.name ? `${holder.name.text}.` : '';
  if (!ts.isObjectLiteralExpression(holder)) return '';
  let n: ts.Node = holder;
  while (
    ts.isObjectLiteralExpression(n) ||
    ts.isCallExpression(n) ||
    ts.isParenthesizedExpression(n) ||
    ts.isAsExpression(n) ||
    ts.isSatisfiesExpression(n)
  )
    n = n.parent;
  const name = ts.isVariableDeclaration(n) ? propertyName(n.name, sf) : undefined;
  return name ? `${name}.` : '';
}

const lineOf = (sf: ts.SourceFile, pos: number) => sf.getLineAndCharacterOfPosition(pos).line;

/** The reason in the comments directly above the line fn starts on: the outermost node starting
 *  on that line carries them (`export async function`, `const f = () =>`, `x.on('data', (d) =>`). */
function longReason(fn: FunctionNode, sf: ts.SourceFile): string | undefined {
  const startLine = lineOf(sf, fn.getStart(sf));
  let anchor: ts.Node = fn;
  while (anchor.parent && !ts.isSourceFile(anchor.parent) && lineOf(sf, anchor.parent.getStart(sf)) === startLine)
    anchor = anchor.parent;
  const text = sf.getFullText();
  const comments = ts.getLeadingCommentRanges(text, anchor.getFullStart()) ?? [];
  // only the block touching the function: walk up from the last comment while no blank line parts them
  const block: string[] = [];
  let next = lineOf(sf, anchor.getStart(sf));
  for (let i = comments.length - 1; i >= 0; i--) {
    const c = comments[i];
    if (lineOf(sf, c.end) < next - 1) break;
    block.unshift(text.slice(c.pos, c.end));
    next = lineOf(sf, c.pos);
  }
  const words = block
    .join('\n')
    .split('\n')
    .map((l) => l.replace(/^\s*(\/\/+|\/\*+|\*+\/?)?/, '').replace(/\*+\/\s*$/, ''))
    .join(' ');
  const reason = /\blong:\s*(\S.*)$/.exec(words)?.[1].replace(/\s+/g, ' ').trim();
  return reason && reason.split(' ').length >= 2 ? reason : undefined;
}

/** Lines a function's body spans: from its opening brace to its closing one. */
function bodyLines(fn: FunctionNode, sf: ts.SourceFile): number {
  if (!fn.body) return 0;
  return lineOf(sf, fn.body.getEnd()) - lineOf(sf, fn.body.getStart(sf)) + 1;
}

/** Every function of one file whose body spans more than limit lines, in file order. */
export function longFunctionsInFile(file: string, root: string, limit = LIMIT): LongFunction[] {
  return longFunctionsInText(readFileSync(file, 'utf8'), relative(root, file), limit);
}

/** Every function of a source text whose body spans more than limit lines, in text order. */
export function longFunctionsInText(text: string, file: string, limit = LIMIT): LongFunction[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (isFunctionNode(node)) {
      const lines = bodyLines(node, sf);
      if (lines > limit)
        found.push({
          name: functionName(node, sf),
          file,
          line: lineOf(sf, node.getStart(sf)) + 1,
          lines,
          reason: longReason(node, sf),
        });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** Every long function under dir, longest first. */
export function longFunctions(dir: string, limit = LIMIT): LongFunction[] {
  return sourceFiles(dir)
    .flatMap((f) => longFunctionsInFile(f, dir, limit))
    .sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file) || a.line - b.line);
}

function main(): void {
  const src = process.argv[2] ?? fileURLToPath(new URL('../../src', import.meta.url));
  const found = longFunctions(src);
  const width = Math.max(0, ...found.map((f) => `${f.file}:${f.line}`.length));
  const nameWidth = Math.max(0, ...found.map((f) => f.name.length));
  for (const f of found)
    console.log(
      `${String(f.lines).padStart(4)}  ${f.name.padEnd(nameWidth)}  ` +
        (f.reason ? `${`${f.file}:${f.line}`.padEnd(width)}  long: ${f.reason}` : `${f.file}:${f.line}`),
    );
  const unexplained = found.filter((f) => !f.reason).length;
  console.log(
    `${found.length} function(s) over ${LIMIT} lines in ${relative(process.cwd(), src) || '.'}, ` +
      `${unexplained} without a \`long:\` reason`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
