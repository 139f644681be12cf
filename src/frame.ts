import { randomBytes } from 'node:crypto';

/**
 * The one framed-output protocol of every probe and script run on a host. The script calls the
 * sh writer `rp_frame <name> [<key>]` to open a section; everything it prints until the next
 * frame is that section's body. The writer prints `\n@@rp <nonce> <name> [<key>]\n`: the
 * newline before the marker line ends a body that had no final newline, and the reader takes
 * it off again, so a body comes back byte for byte. The nonce is random per command and known
 * only to the command's text and its reader: a body line (a file, a log line, a hostname: the
 * target's data, untrusted) that looks like a frame is just a body line, since it cannot carry
 * the nonce. Names are words; a key is one line of the script's own choosing.
 */
export interface Frame {
  name: string;
  /** The rest of the frame line after the name ('' when none). */
  key: string;
  body: string;
}

/** The frames of one command's output, in order. */
export class Frames {
  constructor(
    readonly list: readonly Frame[],
    /** Output before the first frame (none when the script frames all it prints). */
    readonly before = '',
  ) {}

  /** The first frame named `name` (and with key `key`, when given). */
  get(name: string, key?: string): Frame | undefined {
    return this.list.find((f) => f.name === name && (key === undefined || f.key === key));
  }

  has(name: string, key?: string): boolean {
    return this.get(name, key) !== undefined;
  }

  /** The body of that frame, '' when there is none. */
  body(name: string, key?: string): string {
    return this.get(name, key)?.body ?? '';
  }

  /** Every frame named `name`, in order. */
  all(name: string): Frame[] {
    return this.list.filter((f) => f.name === name);
  }
}

/** A fresh nonce: 24 hex digits. */
export function frameNonce(): string {
  return randomBytes(12).toString('hex');
}

/** The sh writer: defines `rp_frame` (and `rp_nonce`, which only scripts that digest framed
 *  output need: see unframedDigest in transport/fileops.ts). */
export function frameWriter(nonce: string): string {
  if (!/^[0-9a-f]+$/.test(nonce)) throw new Error('internal: a frame nonce is hex digits');
  return `rp_nonce=${nonce}\nrp_frame() { printf '\\n@@rp %s %s\\n' "$rp_nonce" "$*"; }`;
}

/** The one reader: the frames that `frameWriter(nonce)` wrote into `text`. */
export function readFrames(text: string, nonce: string): Frames {
  const marker = new RegExp(`\\n@@rp ${nonce} ([^\\n]*)\\n`, 'g');
  const list: Frame[] = [];
  let before: string | undefined;
  let open: { name: string; key: string; from: number } | undefined;
  for (const m of text.matchAll(marker)) {
    if (open) list.push({ name: open.name, key: open.key, body: text.slice(open.from, m.index) });
    else before = text.slice(0, m.index);
    const [name, ...key] = m[1].trimEnd().split(' ');
    open = { name, key: key.join(' '), from: m.index + m[0].length };
  }
  if (open) list.push({ name: open.name, key: open.key, body: text.slice(open.from) });
  return new Frames(list, before ?? text);
}

/** A script with the writer of a fresh nonce in front of it, and the reader of its output. */
export interface FramedScript {
  script: string;
  read(output: string): Frames;
}

export function framed(script: string): FramedScript {
  const nonce = frameNonce();
  return { script: `${frameWriter(nonce)}\n${script}`, read: (output) => readFrames(output, nonce) };
}

/** The lines of a body: split on newlines, without the empty last one a final newline gives. */
export function bodyLines(body: string): string[] {
  if (body === '') return [];
  const lines = body.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}
