import { hostPath, shq, type Transport } from './types.ts';

/** State of one file on a host, read in a single command. */
export interface FileState {
  exists: boolean;
  isDir?: boolean;
  mode?: string; // octal, 4 digits, e.g. "0644"
  owner?: string;
  group?: string;
  content?: Buffer;
}

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
export async function run(t: Transport, script: string, what: string, stdin?: string | Buffer, timeoutMs?: number): Promise<string> {
  const r = await t.exec(script, { stdin, timeoutMs });
  if (r.code !== 0) {
    const detail = (r.stderr || r.stdout).trim().split('\n').slice(-5).join('\n');
    throw new HostCommandError(`${what} failed (exit ${r.code})${detail ? `: ${detail}` : ''}`, r.code, r.stderr);
  }
  return r.stdout;
}

/** Reads existence, mode, owner and (for regular files) content of `path` in one round trip. */
export async function readFileState(t: Transport, path: string, withContent = true): Promise<FileState> {
  const p = shq(hostPath(t, path));
  const script = `if [ -d ${p} ]; then echo dir; stat -c '%a %U %G' ${p}; elif [ -e ${p} ]; then echo file; stat -c '%a %U %G' ${p};${
    withContent ? ` base64 -w0 ${p};` : ''
  } else echo absent; fi`;
  const out = await run(t, script, `read ${path}`);
  return parseFileState(out);
}

export function parseFileState(out: string): FileState {
  const [kind, meta = '', b64 = ''] = out.split('\n');
  if (kind === 'absent') return { exists: false };
  const [mode, owner, group] = meta.trim().split(' ');
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
 *  set, optional validation, then rename. A failure leaves the old file untouched. */
export async function writeFileAtomic(t: Transport, path: string, content: Buffer | string, opts: WriteOptions = {}): Promise<void> {
  const target = hostPath(t, path);
  const dir = target.replace(/\/[^/]*$/, '') || '/';
  const tmp = `${dir}/.${target.split('/').pop()}.rp-tmp.$$`;
  const lines = [
    'set -e',
    `mkdir -p ${shq(dir)}`,
    `tmp=${tmp}`,
    `trap 'rm -f "$tmp"' EXIT`,
    `base64 -d > "$tmp"`,
  ];
  if (opts.mode) lines.push(`chmod ${shq(opts.mode)} "$tmp"`);
  else lines.push(`if [ -e ${shq(target)} ]; then chmod "$(stat -c %a ${shq(target)})" "$tmp"; else chmod 0644 "$tmp"; fi`);
  if (opts.owner || opts.group) lines.push(`chown ${shq(`${opts.owner ?? ''}${opts.group ? `:${opts.group}` : ''}`)} "$tmp"`);
  if (opts.validate) {
    const cmd = opts.validate.includes('%s') ? opts.validate.replaceAll('%s', '"$tmp"') : `${opts.validate} "$tmp"`;
    lines.push(`if ! out=$(${cmd} 2>&1); then echo "validation failed: $out" >&2; exit 65; fi`);
  }
  if (opts.backup) lines.push(`if [ -e ${shq(target)} ]; then cp -p ${shq(target)} ${shq(target)}.$(date +%Y%m%d%H%M%S)~; fi`);
  lines.push(`mv -f "$tmp" ${shq(target)}`, 'trap - EXIT');
  const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
  await run(t, lines.join('\n'), `write ${path}`, data.toString('base64'));
}

/** Changes mode/owner of an existing path without touching its content. */
export async function setAttributes(t: Transport, path: string, opts: Pick<WriteOptions, 'mode' | 'owner' | 'group'>): Promise<void> {
  const p = shq(hostPath(t, path));
  const cmds: string[] = [];
  if (opts.mode) cmds.push(`chmod ${shq(opts.mode)} ${p}`);
  if (opts.owner || opts.group) cmds.push(`chown ${shq(`${opts.owner ?? ''}${opts.group ? `:${opts.group}` : ''}`)} ${p}`);
  if (cmds.length) await run(t, cmds.join(' && '), `set attributes of ${path}`);
}

export async function removePath(t: Transport, path: string): Promise<void> {
  await run(t, `rm -f ${shq(hostPath(t, path))}`, `remove ${path}`);
}

/** Normalizes "644" / "0644" / "u=rw..." style modes to four octal digits (octal only). */
export function normalizeMode(mode: string | number | undefined): string | undefined {
  if (mode === undefined) return undefined;
  const s = String(mode); // a YAML number 644 means the digits the user typed
  if (!/^[0-7]{3,4}$/.test(s)) throw new Error(`mode must be octal digits like "0644", got "${s}"`);
  return s.padStart(4, '0');
}
