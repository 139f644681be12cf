/**
 * Parser for /etc/ramster.conf (ocfs2 cluster.conf syntax), with the rules of ocfs2-tools'
 * jconfig parser plus what RAMster and the kernel's configfs need (ramster-kernel.md).
 *
 * playbooks/files/ramster-tools/ramster-ctl carries an awk copy of these rules with the same
 * messages; test/unit/ramster/ctl-check-parity.test.ts keeps the two in agreement. Change both.
 *
 * Where this is stricter than the installed ocfs2-tools 1.8.7 `o2cb` (which loads a file and
 * only checks it loosely), the reason is RAMster or the kernel:
 * - trailing blanks: ocfs2-tools 1.6 (RAMster's base) keeps them in the value, so `7777 `
 *   is not a port; 1.8.7 strips them. Rejected so the file works with every version.
 * - node numbers: ocfs2 allows 0-254, RAMster's kernel code only 0-7.
 * - duplicate numbers/addresses: the kernel refuses the second configfs write (EEXIST).
 * - node `cluster` must equal the cluster name: ocfs2 silently ignores nodes of other clusters.
 * - node_count must match: ocfs2 does not check it, the HOW-TO's file always agrees.
 * - one `cluster:` stanza, no other stanza kinds, no unknown or repeated attributes,
 *   no backslash continuations (jconfig supports them; no RAMster value can contain one).
 * Accepted like jconfig: blanks after a stanza header's colon, `#` comments in column 0
 * anywhere (they do not end a stanza), stanzas in any order.
 */

import type { Diagnostic } from '../input/diagnostics.ts';

export interface ConfError {
  line: number; // 1-based; 1 for problems of the whole file
  message: string;
  hint: string;
}

export interface ConfNode {
  name: string;
  cluster: string;
  number: number;
  ipAddress: string;
  ipPort: number;
  /** Line of the `node:` header. */
  line: number;
}

export interface RamsterConf {
  cluster: { name: string; nodeCount: number; line: number };
  /** Sorted by node number. */
  nodes: ConfNode[];
  /** The node whose name is the hostname (or its short form); only when a hostname was given. */
  local?: ConfNode;
}

export type ConfParseResult = { ok: true; conf: RamsterConf } | { ok: false; errors: ConfError[] };

/** RAMster's kernel code handles 8 nodes (ocfs2's node manager would take 0-254). */
export const RAMSTER_MAX_NODE_NUMBER = 7;
export const MAX_CLUSTER_NAME_LENGTH = 16;
export const MAX_NODE_NAME_LENGTH = 64;

type Kind = 'cluster' | 'node';

interface Attr {
  value: string;
  line: number;
  valid: boolean;
}

interface Stanza {
  kind: Kind;
  line: number;
  attrs: Map<string, Attr>;
}

const KEYS: Record<Kind, string[]> = {
  cluster: ['name', 'node_count'],
  node: ['name', 'cluster', 'number', 'ip_address', 'ip_port'],
};

const KEY_HINT: Record<Kind, string> = {
  cluster: "'cluster:' takes name and node_count",
  node: "'node:' takes name, cluster, number, ip_address and ip_port",
};

const MISSING_HINT: Record<string, string> = {
  'cluster.name': "add a line '<tab>name = ramster' (1 to 16 letters or digits)",
  'cluster.node_count': "add a line '<tab>node_count = N' (the number of node: stanzas)",
};
const NODE_MISSING_HINT = 'every node: stanza needs name, cluster, number, ip_address and ip_port';

const HEADER_HINT =
  "a stanza header is 'cluster:' or 'node:' in column 0 with nothing after it; attribute lines are indented";

export function isIpv4(value: string): boolean {
  const parts = value.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

export function shortHostname(hostname: string): string {
  const dot = hostname.indexOf('.');
  return dot === -1 ? hostname : hostname.slice(0, dot);
}

/** Format check of one value; returns [message, hint] or undefined when valid. */
function checkValue(kind: Kind, key: string, v: string): [string, string] | undefined {
  if (/[ \t]$/.test(v)) {
    return [
      `trailing blank after the value of '${key}'`,
      'remove the spaces or tabs at the end of the line: the parser keeps them in the value',
    ];
  }
  if (v === '') return [`empty value for '${key}'`, `give '${key}' a value`];
  const id = `${kind}.${key}`;
  switch (id) {
    case 'cluster.name':
      if (!/^[A-Za-z0-9]+$/.test(v))
        return [
          `cluster name '${v}' must contain only letters and digits`,
          'ocfs2-tools accepts 1 to 16 characters [A-Za-z0-9]',
        ];
      if (v.length > MAX_CLUSTER_NAME_LENGTH)
        return [
          `cluster name '${v}' is longer than 16 characters`,
          'ocfs2-tools accepts 1 to 16 characters [A-Za-z0-9]',
        ];
      return undefined;
    case 'cluster.node_count':
      if (!/^[0-9]+$/.test(v))
        return [`node_count '${v}' is not a number`, 'node_count is the number of node: stanzas'];
      return undefined;
    case 'node.name':
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v))
        return [
          `node name '${v}' is not a valid host name`,
          "use the output of 'hostname' (letters, digits, '.', '-', '_')",
        ];
      if (v.length > MAX_NODE_NAME_LENGTH)
        return [`node name '${v}' is longer than 64 characters`, 'the kernel limits node names to 64 characters'];
      return undefined;
    case 'node.number':
      if (!/^[0-9]+$/.test(v)) return [`node number '${v}' is not a number`, 'number is 0 to 7'];
      if (Number(v) > RAMSTER_MAX_NODE_NUMBER)
        return [
          `node number '${v}' is out of range 0-7`,
          'RAMster handles at most 8 nodes, numbered 0-7 (ocfs2 allows up to 254)',
        ];
      return undefined;
    case 'node.ip_address':
      if (!isIpv4(v)) return [`'${v}' is not an IPv4 address`, 'write a dotted quad such as 192.168.1.10'];
      return undefined;
    case 'node.ip_port':
      if (!/^[0-9]+$/.test(v))
        return [`ip_port '${v}' is not a number`, 'ip_port is 1-65534; RAMster uses 7777 by convention'];
      if (Number(v) < 1 || Number(v) > 65534)
        return [`ip_port '${v}' is out of range 1-65534`, 'ip_port is 1-65534; RAMster uses 7777 by convention'];
      return undefined;
    default:
      return undefined;
  }
}

type Report = (line: number, message: string, hint: string) => void;

export function parseRamsterConf(text: string, hostname?: string): ConfParseResult {
  const errors: ConfError[] = [];
  const err: Report = (line, message, hint) => errors.push({ line, message, hint });

  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

  const crAt = lines.findIndex((l) => l.includes('\r'));
  if (crAt !== -1) {
    err(
      crAt + 1,
      'line ends with a carriage return (CRLF line endings)',
      "convert the file to LF line endings: sed -i 's/\\r$//' /etc/ramster.conf",
    );
    return { ok: false, errors };
  }

  const stanzas = readStanzas(lines, err);

  // Whole-file checks, in a fixed order (the awk copy uses the same order).
  const clusters = stanzas.filter((s) => s.kind === 'cluster');
  const nodes = stanzas.filter((s) => s.kind === 'node');
  const cl = clusters[0];
  checkStanzas(clusters, nodes, err);
  checkClusterAgreement(cl, nodes, err);
  checkDuplicates(nodes, err);
  if (errors.length === 0 && hostname) checkLocalNode(nodes, hostname, err);

  if (errors.length > 0) return { ok: false, errors: sortByLine(errors) };
  return { ok: true, conf: buildConf(cl, nodes, hostname) };
}

/** The line reader's state: the stanzas so far and the one attribute lines go to. */
interface ReadState {
  stanzas: Stanza[];
  cur: Stanza | undefined;
  /** After an invalid header: its attributes are not reported again. */
  skipping: boolean;
  closedBy: { blank: number; kind: Kind } | undefined;
}

/** The stanzas of the file's lines, reporting each line that breaks the syntax. */
function readStanzas(lines: string[], err: Report): Stanza[] {
  const st: ReadState = { stanzas: [], cur: undefined, skipping: false, closedBy: undefined };
  lines.forEach((raw, i) => {
    const n = i + 1;
    if (/^[ \t]*$/.test(raw)) {
      if (st.cur) st.closedBy = { blank: n, kind: st.cur.kind };
      st.cur = undefined;
      return;
    }
    const first = raw[0];
    if (first === '#') return;
    if (first === ' ' || first === '\t') readAttribute(st, raw, n, err);
    else if (/^[A-Za-z0-9_]/.test(first)) readHeader(st, raw, n, err);
    else err(n, "line does not start with a stanza header, an indented attribute, '#' or a blank", HEADER_HINT);
  });
  return st.stanzas;
}

/** An indented line: `key = value` of the current stanza. */
function readAttribute(st: ReadState, raw: string, n: number, err: Report): void {
  const body = raw.replace(/^[ \t]+/, '');
  if (body.startsWith('#')) {
    err(n, 'comment not in column 0', "'#' starts a comment only in column 0: remove the blanks before it");
    return;
  }
  const m = /^([A-Za-z0-9_]+)[ \t]*=[ \t]*([\s\S]*)$/.exec(body);
  if (!m) {
    err(n, "malformed attribute line (expected 'key = value')", "attribute lines are a tab, a key, ' = ' and a value");
    return;
  }
  const cur = st.cur;
  if (!cur) {
    if (st.skipping) return;
    if (st.closedBy)
      err(
        n,
        `attribute after a blank line: the blank line at line ${st.closedBy.blank} ended the '${st.closedBy.kind}:' stanza`,
        'remove the blank line: a blank line ends a stanza',
      );
    else err(n, 'attribute line before any stanza header', "start the file with a 'cluster:' line");
    return;
  }
  const [, key, value] = m;
  if (value.includes('\\')) {
    err(n, 'backslash in value (line continuations are not supported)', 'remove the backslash');
    return;
  }
  if (!KEYS[cur.kind].includes(key)) {
    err(n, `unknown attribute '${key}' in a '${cur.kind}:' stanza`, KEY_HINT[cur.kind]);
    return;
  }
  const prev = cur.attrs.get(key);
  if (prev) {
    err(
      n,
      `attribute '${key}' is set twice in this stanza (first at line ${prev.line})`,
      'remove one of the two lines',
    );
    return;
  }
  const bad = checkValue(cur.kind, key, value);
  if (bad) err(n, bad[0], bad[1]);
  cur.attrs.set(key, { value, line: n, valid: !bad });
}

/** A line starting in column 0: a stanza header, `cluster:` or `node:`. */
function readHeader(st: ReadState, raw: string, n: number, err: Report): void {
  st.cur = undefined;
  st.closedBy = undefined;
  st.skipping = true;
  const m = /^([A-Za-z0-9_]+)([\s\S]*)$/.exec(raw)!;
  const [, word, rest] = m;
  if (!rest.startsWith(':')) {
    err(n, "malformed stanza header (expected 'cluster:' or 'node:')", HEADER_HINT);
    return;
  }
  if (!/^:[ \t]*$/.test(rest)) {
    err(n, `text after stanza header '${word}:'`, HEADER_HINT);
    return;
  }
  if (word !== 'cluster' && word !== 'node') {
    err(n, `unknown stanza '${word}:'`, "ramster.conf has only 'cluster:' and 'node:' stanzas");
    return;
  }
  st.skipping = false;
  st.cur = { kind: word, line: n, attrs: new Map() };
  st.stanzas.push(st.cur);
}

/** One cluster stanza, at least one node stanza, every attribute of each. */
function checkStanzas(clusters: Stanza[], nodes: Stanza[], err: Report): void {
  const cl = clusters[0];
  if (!cl) err(1, "no 'cluster:' stanza", "add a 'cluster:' stanza with name and node_count");
  for (const extra of clusters.slice(1))
    err(
      extra.line,
      `second 'cluster:' stanza (first at line ${cl.line})`,
      "RAMster runs exactly one cluster: keep one 'cluster:' stanza",
    );
  if (cl) {
    for (const key of KEYS.cluster)
      if (!cl.attrs.has(key)) err(cl.line, `'cluster:' stanza has no '${key}'`, MISSING_HINT[`cluster.${key}`]);
  }
  if (nodes.length === 0) err(1, "no 'node:' stanzas", 'add one node: stanza per host');
  for (const nd of nodes)
    for (const key of KEYS.node)
      if (!nd.attrs.has(key)) err(nd.line, `'node:' stanza has no '${key}'`, NODE_MISSING_HINT);
}

/** Every node names the cluster, and node_count counts the nodes. */
function checkClusterAgreement(cl: Stanza | undefined, nodes: Stanza[], err: Report): void {
  const clName = cl?.attrs.get('name');
  if (clName?.valid) {
    for (const nd of nodes) {
      const c = nd.attrs.get('cluster');
      if (c?.valid && c.value !== clName.value)
        err(
          c.line,
          `node belongs to cluster '${c.value}' but the cluster is named '${clName.value}' (names are case-sensitive)`,
          `set 'cluster = ${clName.value}' in every node: stanza`,
        );
    }
  }
  const count = cl?.attrs.get('node_count');
  if (count?.valid && Number(count.value) !== nodes.length)
    err(
      count.line,
      `node_count is ${count.value} but the file has ${nodes.length} 'node:' stanzas`,
      `set node_count = ${nodes.length}`,
    );
}

/** No two nodes share a number, a name or an address. */
function checkDuplicates(nodes: Stanza[], err: Report): void {
  const dup = (key: string, norm: (v: string) => string, what: (v: string) => string, hint: string) => {
    const seen = new Map<string, number>();
    for (const nd of nodes) {
      const a = nd.attrs.get(key);
      if (!a?.valid) continue;
      const k = norm(a.value);
      const first = seen.get(k);
      if (first !== undefined) err(a.line, `${what(a.value)} is used twice (first at line ${first})`, hint);
      else seen.set(k, a.line);
    }
  };
  dup(
    'number',
    (v) => String(Number(v)),
    (v) => `node number ${v}`,
    'give every node a different number 0-7',
  );
  dup(
    'name',
    (v) => v,
    (v) => `node name '${v}'`,
    'every node needs its own name',
  );
  dup(
    'ip_address',
    (v) => v,
    (v) => `address '${v}'`,
    'every node needs its own address',
  );
}

/** Exactly one node carries this host's name (or its short form). */
function checkLocalNode(nodes: Stanza[], hostname: string, err: Report): void {
  const short = shortHostname(hostname);
  const matches = nodes.filter((nd) => {
    const name = nd.attrs.get('name')!.value;
    return name === hostname || name === short;
  });
  if (matches.length === 0) {
    const names = short === hostname ? `'${hostname}'` : `'${hostname}' or '${short}'`;
    err(1, `no node is named ${names}`, "the name of this host's node: stanza must equal the output of 'hostname'");
  } else if (matches.length > 1) {
    const [a, b] = matches.map((nd) => nd.attrs.get('name')!);
    err(
      b.line,
      `node names '${a.value}' (line ${a.line}) and '${b.value}' both match this host '${hostname}'`,
      "only one node: stanza may carry this host's name",
    );
  }
}

/** The parsed file, once the checks found nothing: every attribute is there and valid. */
function buildConf(cl: Stanza, nodes: Stanza[], hostname: string | undefined): RamsterConf {
  const confNodes: ConfNode[] = nodes
    .map((nd) => ({
      name: nd.attrs.get('name')!.value,
      cluster: nd.attrs.get('cluster')!.value,
      number: Number(nd.attrs.get('number')!.value),
      ipAddress: nd.attrs.get('ip_address')!.value,
      ipPort: Number(nd.attrs.get('ip_port')!.value),
      line: nd.line,
    }))
    .sort((a, b) => a.number - b.number);
  const short = hostname ? shortHostname(hostname) : undefined;
  const local = hostname ? confNodes.find((nd) => nd.name === hostname || nd.name === short) : undefined;
  return {
    cluster: { name: cl.attrs.get('name')!.value, nodeCount: Number(cl.attrs.get('node_count')!.value), line: cl.line },
    nodes: confNodes,
    ...(local ? { local } : {}),
  };
}

/** Stable sort by line: errors of one line keep the order in which they were found. */
function sortByLine(errors: ConfError[]): ConfError[] {
  return errors
    .map((e, i) => [e, i] as const)
    .sort((a, b) => a[0].line - b[0].line || a[1] - b[1])
    .map(([e]) => e);
}

/** `file:line: message` plus the hint on its own line, the way ramster-ctl prints them. */
export function formatConfErrors(file: string, errors: ConfError[]): string {
  return errors.map((e) => `${file}:${e.line}: ${e.message}\n  hint: ${e.hint}`).join('\n');
}

/** The errors as project diagnostics (column 1: every rule is about a whole line). */
export function confErrorsToDiagnostics(file: string, errors: ConfError[]): Diagnostic[] {
  return errors.map((e) => ({ file, line: e.line, col: 1, message: e.message, hint: e.hint }));
}
