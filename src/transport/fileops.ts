import { createHash } from 'node:crypto';
import { FileStateSnapshot, SNAPSHOT_MAX_BYTES, type FileState } from './snapshot.ts';
import { hostPath, lexicalHostPath, type ExecOptions, type ExecResult, type Transport } from './types.ts';

export { FileStateSnapshot, SNAPSHOT_MAX_BYTES, type FileState } from './snapshot.ts';
import { commandFailed, shq } from '../shell.ts';
import { bodyLines, framed, type Frames } from '../frame.ts';

/** State of one file on a host, read in a single command. */
export class HostCommandError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'HostCommandError';
  }
}

/** Runs a script and throws with its stderr when it exits non-zero. */
export async function run(
  t: Transport,
  script: string,
  what: string,
  stdin?: string | Buffer,
  timeoutMs?: number,
): Promise<string> {
  return runScript(t, script, what, { stdin, timeoutMs });
}

/** Like `run` for a command that only reads: the host's file-state snapshot stays valid. */
export async function probe(t: Transport, script: string, what: string, timeoutMs?: number): Promise<string> {
  return runScript(t, script, what, { timeoutMs, touches: [] });
}

/** Like `probe` for a script that frames its output (src/frame.ts): its frames. */
export async function probeFrames(t: Transport, script: string, what: string, timeoutMs?: number): Promise<Frames> {
  const f = framed(script);
  return f.read(await probe(t, f.script, what, timeoutMs));
}

/** Like `run` for a script that frames its output (src/frame.ts): its frames. */
export async function runFrames(t: Transport, script: string, what: string, timeoutMs?: number): Promise<Frames> {
  const f = framed(script);
  return f.read(await run(t, f.script, what, undefined, timeoutMs));
}

/** Exec options for a command that only reads, when its exit code is needed (probe throws). */
export function readOnly(opts: ExecOptions = {}): ExecOptions {
  return { ...opts, touches: [] };
}

async function runScript(t: Transport, script: string, what: string, opts: ExecOptions): Promise<string> {
  const r = await t.exec(script, opts);
  if (r.code !== 0) throw commandError(what, r);
  return r.stdout;
}

function commandError(what: string, r: ExecResult): HostCommandError {
  return new HostCommandError(commandFailed(what, r, { lines: 5 }), r.code, r.stderr);
}

/** A write: queued when the transport batches writes (Transport.deferWrite), else run now. */
async function runWrite(
  t: Transport,
  script: string,
  what: string,
  write: { touches: string[]; stdin?: string },
): Promise<void> {
  if (t.deferWrite) t.deferWrite(script, { ...write, failed: (r) => commandError(what, r) });
  else await runScript(t, script, what, write);
}

/** Reads existence, mode, owner and (for regular files) content of `path` in one round trip. */
export async function readFileState(t: Transport, path: string, withContent = true): Promise<FileState> {
  const known = t.snapshot?.get(path, withContent);
  if (known) return known;
  const p = shq(hostPath(t, path));
  const meta = `rp_frame meta; stat -c '%a %U %G' ${p}`;
  const script = `if [ -d ${p} ]; then rp_frame kind dir; ${meta}; elif [ -e ${p} ]; then rp_frame kind file; ${meta};${
    withContent ? ` rp_frame content; base64 -w0 ${p};` : ''
  } else rp_frame kind absent; fi`;
  return parseFileState(await probeFrames(t, script, `read ${path}`));
}

export function parseFileState(frames: Frames): FileState {
  const kind = frames.get('kind')?.key;
  const b64 = frames.body('content');
  if (kind === 'absent') return { exists: false };
  const [mode, owner, group] = frames.body('meta').trim().split(' ');
  return {
    exists: true,
    isDir: kind === 'dir',
    mode: mode.padStart(4, '0'),
    owner,
    group,
    content: kind === 'file' ? Buffer.from(b64.trim(), 'base64') : undefined,
  };
}

export interface WriteOptions {
  mode?: string;
  owner?: string;
  group?: string;
  /** Keep the previous file as `<path>.<timestamp>~` before replacing it. */
  backup?: boolean;
  /** Command that must accept the new content first; `%s` is replaced by the temp file path. */
  validate?: string;
}

/** Writes `content` to `path` atomically: temp file in the same directory, mode and owner
 *  set, optional validation, then rename. A failure leaves the old file untouched. On a
 *  transport that batches writes (Transport.deferWrite: the engine's, in an apply) this and
 *  the other writes below are queued, and a failure is thrown by a later command. */
export async function writeFileAtomic(
  t: Transport,
  path: string,
  content: Buffer | string,
  opts: WriteOptions = {},
): Promise<void> {
  const target = hostPath(t, path);
  const dir = target.replace(/\/[^/]*$/, '') || '/';
  const tmpPrefix = `${dir}/.${target.split('/').pop()}.rp-tmp.`;
  const lines = [
    'set -e',
    `mkdir -p ${shq(dir)}`,
    // A write killed outright (step timeout's SIGKILL) could not clean up: the host lock
    // means no other write of ours is in flight, so leftovers of earlier runs go now.
    `rm -f ${shq(tmpPrefix)}*`,
    `tmp=${shq(tmpPrefix)}$$`,
    `trap 'rm -f "$tmp"' EXIT`,
    // dash skips the EXIT trap when a signal ends it (the step timeout sends TERM)
    `trap 'exit 143' TERM HUP INT`,
    `base64 -d > "$tmp"`,
  ];
  if (opts.mode) lines.push(`chmod ${shq(opts.mode)} "$tmp"`);
  else
    lines.push(
      `if [ -e ${shq(target)} ]; then chmod "$(stat -c %a ${shq(target)})" "$tmp"; else chmod 0644 "$tmp"; fi`,
    );
  if (opts.owner || opts.group)
    lines.push(`chown ${shq(`${opts.owner ?? ''}${opts.group ? `:${opts.group}` : ''}`)} "$tmp"`);
  if (opts.validate) {
    const cmd = opts.validate.includes('%s') ? opts.validate.replaceAll('%s', '"$tmp"') : `${opts.validate} "$tmp"`;
    lines.push(`if ! out=$(${cmd} 2>&1); then echo "validation failed: $out" >&2; exit 65; fi`);
  }
  if (opts.backup)
    lines.push(`if [ -e ${shq(target)} ]; then cp -p ${shq(target)} ${shq(target)}.$(date +%Y%m%d%H%M%S)~; fi`);
  lines.push(`mv -f "$tmp" ${shq(target)}`, 'trap - EXIT');
  const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
  await runWrite(t, lines.join('\n'), `write ${path}`, { stdin: data.toString('base64'), touches: [path] });
}

/** Changes mode/owner of an existing path without touching its content. */
export async function setAttributes(
  t: Transport,
  path: string,
  opts: Pick<WriteOptions, 'mode' | 'owner' | 'group'>,
): Promise<void> {
  const p = shq(hostPath(t, path));
  const cmds: string[] = [];
  if (opts.mode) cmds.push(`chmod ${shq(opts.mode)} ${p}`);
  if (opts.owner || opts.group)
    cmds.push(`chown ${shq(`${opts.owner ?? ''}${opts.group ? `:${opts.group}` : ''}`)} ${p}`);
  if (cmds.length) await runWrite(t, cmds.join(' && '), `set attributes of ${path}`, { touches: [path] });
}

export async function removePath(t: Transport, path: string): Promise<void> {
  await runWrite(t, `rm -f ${shq(hostPath(t, path))}`, `remove ${path}`, { touches: [path] });
}

/** Normalizes "644" / "0644" / "u=rw..." style modes to four octal digits (octal only). */
export function normalizeMode(mode: string | number | undefined): string | undefined {
  if (mode === undefined) return undefined;
  const s = String(mode); // a YAML number 644 means the digits the user typed
  if (!/^[0-7]{3,4}$/.test(s)) throw new Error(`mode must be octal digits like "0644", got "${s}"`);
  return s.padStart(4, '0');
}

// ---------------------------------------------------------------------------------------------
// File-state snapshot: the state of every file a host's steps will read, taken in one remote
// command (the engine runs it with the facts), so a converged host costs no round trip per step.

// Forks a fixed handful of processes however many paths there are (a fork costs more than the
// bytes): existence by the shell's own test, one readlink, two stat, one md5sum, one cat.
// Its parts are frames (src/frame.ts) named `snapshot <part>`.
const SNAPSHOT_FN = `rp_snap() {
  rp_frame snapshot exists
  for p; do if [ -e "$p" ] || [ -L "$p" ]; then echo 1; else echo 0; fi; done
  rp_frame snapshot canonical
  readlink -m -- "$@" 2>/dev/null || for p; do readlink -f -- "$p" 2>/dev/null || echo; done
  rp_frame snapshot stat
  stat -c '%F|%a|%U|%G|%h|%s|%n' -- "$@" 2>/dev/null
  stat -c '%F|%h|%s|%n' -- "$@" 2>/dev/null | {
    set --
    while IFS='|' read -r t h s n; do
      case $t in 'regular file'|'regular empty file') [ "$h" = 1 ] && [ "$s" -le ${SNAPSHOT_MAX_BYTES} ] && set -- "$@" "$n";; esac
    done
    rp_frame snapshot md5
    [ $# -eq 0 ] || md5sum -- "$@" 2>/dev/null
    rp_frame snapshot content
    [ $# -eq 0 ] || cat -- "$@" 2>/dev/null | base64 -w0
    echo
  }
}`;

/** Shell text printing the state of every path (see parseSnapshot). */
export function snapshotScript(t: Transport, paths: string[]): string {
  return `${SNAPSHOT_FN}\n${snapCall(t, paths)}`;
}

function snapCall(t: Transport, paths: string[]): string {
  return `rp_snap ${paths.map((p) => shq(hostPath(t, p))).join(' ')}`;
}

/** The digest of framed snapshot text on stdin: md5 of the text with this command's nonce
 *  taken out of its frame lines, so the same state gives the same digest in every command. */
const DIGEST_FN = `rp_unframed_md5() { sed "s/^@@rp $rp_nonce /@@rp /" | md5sum | cut -c1-32; }`;

/** Like snapshotScript, after a frame `snapshot digest` holding the digest of the state: the
 *  same state gives the same digest, so the host lock can prove later that nothing moved. */
export function snapshotWithDigestScript(t: Transport, paths: string[]): string {
  // $(...) drops trailing newlines: the `.` keeps them, so the digest is of the exact bytes
  return `${SNAPSHOT_FN}
${DIGEST_FN}
rp_state=$(${snapCall(t, paths)}; echo .); rp_state=\${rp_state%.}
rp_frame snapshot digest; printf %s "$rp_state" | rp_unframed_md5
printf %s "$rp_state"`;
}

export function parseDigest(frames: Frames): string {
  return /^[0-9a-f]{32}$/m.exec(frames.body('snapshot', 'digest'))?.[0] ?? '';
}

/** Shell text defining rp_digest (the digest snapshotWithDigestScript prints, of the paths' state now) and rp_fresh (that state). */
export function snapshotDigestFunctions(t: Transport, paths: string[]): string {
  return `${SNAPSHOT_FN}\n${DIGEST_FN}\nrp_digest() { ${snapCall(t, paths)} | rp_unframed_md5; }\nrp_fresh() { ${snapCall(t, paths)}; }`;
}

/** The paths whose kept state differs between two snapshots of the same paths. */
export function changedPaths(before: FileStateSnapshot, after: FileStateSnapshot, paths: string[]): string[] {
  const same = (a?: FileState, b?: FileState) =>
    !!a &&
    !!b &&
    a.exists === b.exists &&
    a.isDir === b.isDir &&
    a.mode === b.mode &&
    a.owner === b.owner &&
    a.group === b.group &&
    (a.content?.equals(b.content ?? Buffer.alloc(0)) ?? !b.content);
  return paths.filter(
    (p) => (before.get(p, true) || after.get(p, true)) && !same(before.get(p, true), after.get(p, true)),
  );
}

interface StatLine {
  type: string;
  mode: string;
  owner: string;
  group: string;
  links: number;
  size: number;
}

/**
 * Reads snapshotScript's output for the same transport and `paths`. A path is kept only when
 * everything about it is certain: symlink-free, and absent, a directory, or a regular file
 * whose bytes match md5sum's checksum (a file changed while being read is left out).
 */
export function parseSnapshot(frames: Frames, t: Transport, paths: string[]): FileStateSnapshot {
  const snap = new FileStateSnapshot();
  const part = (name: string) => bodyLines(frames.body('snapshot', name));
  const exists = part('exists').filter((l) => l !== '');
  const canonical = part('canonical');
  if (exists.length !== paths.length || canonical.length !== paths.length || !frames.has('snapshot', 'content'))
    return snap;

  const stats = new Map<string, StatLine>();
  for (const line of part('stat')) {
    const f = line.split('|');
    if (f.length < 7) continue;
    stats.set(f.slice(6).join('|'), {
      type: f[0],
      mode: f[1].padStart(4, '0'),
      owner: f[2],
      group: f[3],
      links: Number(f[4]),
      size: Number(f[5]),
    });
  }
  const contents = new Map<string, Buffer>();
  const all = Buffer.from(part('content').join(''), 'base64');
  let at = 0;
  for (const line of part('md5')) {
    const m = /^([0-9a-f]{32}) [ *](.*)$/.exec(line);
    if (!m) continue;
    const size = stats.get(m[2])?.size;
    if (size === undefined || at + size > all.length) break;
    const bytes = all.subarray(at, at + size);
    if (createHash('md5').update(bytes).digest('hex') !== m[1]) break; // offsets after it are unreliable
    contents.set(m[2], bytes);
    at += size;
  }

  for (const [i, path] of paths.entries()) {
    const hp = hostPath(t, path);
    // a path through a symlink shares its state with another path: read it live
    if (path.includes('\n') || canonical[i] !== hp || hp !== lexicalHostPath(t, path)) continue;
    if (exists[i] === '0') {
      snap.add(path, { exists: false });
      continue;
    }
    const st = stats.get(hp);
    if (!st) continue;
    const attrs = { exists: true, mode: st.mode, owner: st.owner, group: st.group };
    if (st.type === 'directory') snap.add(path, { ...attrs, isDir: true, content: undefined });
    else if (contents.has(hp) && st.links === 1) snap.add(path, { ...attrs, isDir: false, content: contents.get(hp) });
  }
  return snap;
}
